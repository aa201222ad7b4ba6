-- The run list: one row per run (at most one project and one manifest file per run), its
-- columns named as IRunSummary's fields (src/store/types.ts), newest first. The server
-- reads it for GET /deardiary/runs, for the runs of the browser's index and for one run
-- (runs.py and db.py add a WHERE clause on these names before the order). The order is
-- stated here, on its last line, and in RUN_ORDER (src/store), kept equal by a test.
SELECT * FROM (
  SELECT i.id, i.snapshot_id, i.number, e.name AS notebook_path, i.trigger, i.status,
    i.notes AS note, i.created_date AS created_at, i.julia_version, i.git_sha,
    i.git_dirty, i.is_global_env, i.has_manifest, i.parent_iteration_id AS parent_id,
    m.sha256 AS manifest_sha256, m.name AS manifest_name, p.sha256 AS project_sha256,
    i.project_path, i.notebook_unsaved, i.patch_sha256 IS NOT NULL AS has_patch,
    i.patch_truncated
  FROM iteration i
  JOIN experiment e ON e.id = i.experiment_id
  LEFT JOIN iteration_file m ON m.iteration_id = i.id AND m.role = 'manifest'
  LEFT JOIN iteration_file p ON p.iteration_id = i.id AND p.role = 'project'
)
ORDER BY created_at DESC, id DESC
