/**
 * The outbox's rules on its own: retries back off up to 30 s, a run the server refuses
 * is dropped (never sent again), a store that cannot be opened stops the pass and keeps
 * the runs. (IndexedDB, which needs Node's structuredClone: outbox.server.ts.)
 */
import { ServerError } from '../server/request';
import { IOutboxEntry, MemoryOutbox, Outbox } from '../store/outbox';
import { prepare } from '../store/prepare';
import { makeRun } from './helpers/sqljs';

async function entry(queuedAt: string): Promise<IOutboxEntry> {
  const input = makeRun();
  return {
    ...(await prepare(input)),
    snapshot_id: input.snapshot_id,
    queued_at: queuedAt
  };
}

afterEach(() => jest.useRealTimers());

describe('Outbox', () => {
  it('retries after 1, 2, 4, 8, 16 s, then every 30 s, until the server answers', async () => {
    jest.useFakeTimers({ now: 0 });
    let failures = 7;
    const attempts: number[] = [];
    const outbox = new Outbox({
      storage: new MemoryOutbox(),
      locks: null,
      classify: () => 'retry',
      send: async () => {
        attempts.push(Date.now());
        if (failures-- > 0) {
          throw new ServerError('down', 0, 'network');
        }
      }
    });
    await outbox.add(await entry('2025-01-01T00:00:00Z'));
    expect(await outbox.flush()).toBe(0);
    await jest.advanceTimersByTimeAsync(200000);
    const gaps = attempts.slice(1).map((t, i) => t - attempts[i]);
    expect(gaps).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000]);
    expect(outbox.count).toBe(0);
    expect(jest.getTimerCount()).toBe(0);
    outbox.dispose();
  });

  it('drops a run the server refuses, keeps them all when the store cannot be opened', async () => {
    const sent: string[] = [];
    let answer: 'refuse' | 'closed' | 'ok' = 'refuse';
    const outbox = new Outbox({
      storage: new MemoryOutbox(),
      locks: null,
      classify: error =>
        (error as ServerError).status === 409 ? 'stop' : 'drop',
      send: async e => {
        if (answer === 'refuse' && sent.length === 0) {
          sent.push(`refused ${e.snapshot_id}`);
          throw new ServerError('bad run', 400, 'bad_run');
        }
        if (answer === 'closed') {
          throw new ServerError('not sqlite', 409, 'not_sqlite');
        }
        sent.push(e.snapshot_id);
      }
    });
    const [a, b, c] = [
      await entry('2025-01-01T00:00:01Z'),
      await entry('2025-01-01T00:00:02Z'),
      await entry('2025-01-01T00:00:03Z')
    ];
    await outbox.add(c);
    await outbox.add(a);
    await outbox.add(b);
    expect(await outbox.flush()).toBe(2);
    // In the order they were kept; the refused one is gone, and said why.
    expect(sent).toEqual([
      `refused ${a.snapshot_id}`,
      b.snapshot_id,
      c.snapshot_id
    ]);
    expect(outbox.count).toBe(0);
    expect((outbox.lastError as ServerError).code).toBe('bad_run');

    answer = 'closed';
    await outbox.add(await entry('2025-01-01T00:00:04Z'));
    expect(await outbox.flush()).toBe(0);
    expect(outbox.count).toBe(1);
    answer = 'ok';
    expect(await outbox.flush()).toBe(1);
    expect(outbox.count).toBe(0);
    expect(outbox.lastError).toBeNull();
  });
});
