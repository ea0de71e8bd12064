import { crc32c } from './crc32c.js';

/**
 * An order-independent digest of a set of (handle, version) pairs: the XOR of
 * a 64-bit hash of each pair, kept as two 32-bit halves. XOR makes it cheap to
 * maintain incrementally on both sides (adding and removing are the same
 * operation), so a chunkserver and the master compare inventories of any
 * size in one heartbeat field and exchange full reports only on a mismatch.
 */
export class InventoryDigest {
  private hi = 0;
  private lo = 0;
  private readonly scratch = Buffer.alloc(16);

  toggle(handle: number, version: number): void {
    this.scratch.writeDoubleLE(handle, 0);
    this.scratch.writeDoubleLE(version, 8);
    this.lo = (this.lo ^ crc32c(this.scratch)) >>> 0;
    this.hi = (this.hi ^ crc32c(this.scratch, 0x9e3779b9)) >>> 0;
  }

  clear(): void {
    this.hi = 0;
    this.lo = 0;
  }

  toString(): string {
    return this.hi.toString(16).padStart(8, '0') + this.lo.toString(16).padStart(8, '0');
  }
}
