/**
 * RunStore's blob cache over the endpoints in memory (helpers/sqljs.ts): a blob is
 * asked for once while it stays in the cache's byte budget, the least recently used
 * goes first, unknown blobs are asked again, and a deletion forgets what it held.
 */
import { FakeStoreAPI, makeRun, makeStore, sha } from './helpers/sqljs';

class CountingBlobs extends FakeStoreAPI {
  reads: string[] = [];

  async getBlob(sha256: string): Promise<Uint8Array | null> {
    this.reads.push(sha256);
    return super.getBlob(sha256);
  }
}

describe('RunStore blob cache', () => {
  it('keeps recently read blobs within its budget, least recently used out first', async () => {
    const api = new CountingBlobs();
    const store = makeStore(api, { blobCacheBytes: 380 });
    const input = makeRun({
      project: 'p'.repeat(90),
      manifest: 'm'.repeat(90)
    });
    const { run } = await store.addRun(input);
    const [project, manifest] = input.capture.files.map(f => f.sha256);
    const notebook = input.notebook.sha256;

    expect(await store.getText(project)).toBe('p'.repeat(90));
    expect(await store.getText(project)).toBe('p'.repeat(90));
    expect(api.reads).toEqual([project]);

    await store.getBlob(manifest); // 90 + 90 bytes: both fit
    await store.getBlob(project); // the project is now the most recent
    expect(api.reads).toEqual([project, manifest]);
    const big = makeRun({ project: 'q'.repeat(95), manifest: 'n'.repeat(95) });
    await store.addRun(big);
    await store.getBlob(big.capture.files[0].sha256); // 275 bytes
    await store.getBlob(big.capture.files[1].sha256); // 370: still fits
    await store.getBlob(notebook); // 13 more, over 380: the manifest (least recent) goes
    api.reads = [];
    await store.getBlob(project);
    await store.getBlob(manifest);
    expect(api.reads).toEqual([manifest]);

    const unknown = sha('never stored');
    expect(await store.getBlob(unknown)).toBeNull();
    expect(await store.getBlob(unknown)).toBeNull();
    expect(api.reads.filter(s => s === unknown)).toHaveLength(2);

    // A deletion: what the cache held is asked again (the blob may be gone).
    await store.deleteRun(run.id);
    api.reads = [];
    await store.getBlob(project);
    expect(api.reads).toEqual([project]);
    store.dispose();
  });
});
