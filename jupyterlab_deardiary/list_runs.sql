-- The run list: one row per run (at most one project and one manifest file per run).
-- GET /deardiary/runs (runs.py) lists with it the same rows as RunStore.listRuns in the
-- browser: it is a copy of SUMMARY in src/store/store.ts (src/__tests__/runs.spec.ts
-- keeps the two texts equal, runs.server.ts compares the rows). runs.py reads the
-- columns by name, RunStore by position.
SELECT i.id, i.snapshot_id, i.number, e.name AS notebook_path, i.trigger, i.status,
  i.notes, i.created_date, i.julia_version, i.git_sha, i.git_dirty, i.is_global_env,
  i.has_manifest, i.parent_iteration_id, m.sha256 AS manifest_sha256,
  m.name AS manifest_name, p.sha256 AS project_sha256, i.project_path,
  i.notebook_unsaved, i.patch_sha256, i.patch_truncated
FROM iteration i
JOIN experiment e ON e.id = i.experiment_id
LEFT JOIN iteration_file m ON m.iteration_id = i.id AND m.role = 'manifest'
LEFT JOIN iteration_file p ON p.iteration_id = i.id AND p.role = 'project'
