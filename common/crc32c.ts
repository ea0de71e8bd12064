import { crc32c as nativeCrc32c } from '@node-rs/crc32';

/**
 * CRC32C (Castagnoli), hardware-accelerated. `initial` continues a previous
 * checksum: crc32c(b, crc32c(a)) === crc32c(a ++ b), which lets appends extend
 * a block's checksum without reading the block back.
 */
export function crc32c(data: Uint8Array, initial = 0): number {
  return nativeCrc32c(data as Buffer, initial) >>> 0;
}
