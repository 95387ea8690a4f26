/**
 * Redis Cluster's hash slots, computed as the server does (CRC16/XMODEM of the key, or of its
 * hash tag, modulo 16384), so a Cluster voter can lay out each script's keys in one slot and
 * guard each slot apart (rule 15; cluster-keys.ts).
 */
export const HASH_SLOTS = 16_384;

/** CRC16 with polynomial 0x1021 and initial value 0 (the XMODEM variant Redis uses), one byte at a time. */
const CRC_TABLE: Uint16Array = (() => {
  const table = new Uint16Array(256);
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    table[byte] = crc;
  }
  return table;
})();

function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) crc = ((crc << 8) & 0xffff) ^ CRC_TABLE[((crc >> 8) ^ byte) & 0xff]!;
  return crc;
}

/**
 * The slot of `key`. Redis hashes only the hash tag when the key has one: the bytes between the
 * first `{` and the first `}` after it, if there is at least one byte between them.
 */
export function slotOfKey(key: string): number {
  const bytes = Buffer.from(key, 'utf8');
  const open = bytes.indexOf(0x7b);
  if (open !== -1) {
    const close = bytes.indexOf(0x7d, open + 1);
    if (close > open + 1) return crc16(bytes.subarray(open + 1, close)) % HASH_SLOTS;
  }
  return crc16(bytes) % HASH_SLOTS;
}

let tags: string[] | undefined;

/**
 * A short hash tag for every slot (`slotOfKey('{' + slotTag(s) + '}') === s`): the first string
 * of a fixed sequence (base-36 numbers) that lands in the slot. Built once, on first use (about
 * 150,000 CRCs of 1-4 byte strings, a few ms); the same on every client and every release, since
 * the guard keys of a slot are named by it.
 */
export function slotTag(slot: number): string {
  if (tags === undefined) {
    const found: (string | undefined)[] = new Array<string | undefined>(HASH_SLOTS).fill(undefined);
    let missing = HASH_SLOTS;
    for (let n = 0; missing > 0; n++) {
      const tag = n.toString(36);
      const s = crc16(Buffer.from(tag, 'latin1')) % HASH_SLOTS;
      if (found[s] === undefined) {
        found[s] = tag;
        missing -= 1;
      }
    }
    tags = found as string[];
  }
  const tag = tags[slot];
  if (tag === undefined) throw new RangeError(`not a hash slot: ${slot}`);
  return tag;
}
