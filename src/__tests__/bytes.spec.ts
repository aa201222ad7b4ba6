import { createHash, randomBytes } from 'crypto';
import { sha256, sha256Sync } from '../bytes';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const node = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('sha256 without WebCrypto (pages outside a secure context)', () => {
  it('matches node for lengths around the block boundaries', () => {
    for (const n of [0, 1, 55, 56, 63, 64, 65, 119, 120, 1000, 70000]) {
      const bytes = new Uint8Array(randomBytes(n));
      expect(hex(sha256Sync(bytes))).toBe(node(bytes));
    }
  });

  it('is what sha256() answers when crypto.subtle is missing', async () => {
    const bytes = new Uint8Array(Buffer.from('name = "x"\r\n\u0000'));
    expect(globalThis.crypto?.subtle).toBeUndefined();
    expect(await sha256(bytes)).toBe(node(bytes));
  });
});
