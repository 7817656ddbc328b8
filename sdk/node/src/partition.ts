// Titan's key -> partition mapping, which every writer of its topics must share: Kafka's default
// partitioner, (murmur2(key bytes) & 0x7fffffff) % partitions. The Go side keeps the same function
// in internal/partition; schemas/testdata/vectors/partitions.json pins both.
//
// The SDK places every record itself rather than leave it to the Kafka client: a client's own
// default is not always Kafka's (@platformatic/kafka's default partitioner does not clear the sign
// bit, so a key whose hash is negative lands elsewhere), and a record in the wrong partition is
// dead-lettered as wrong_partition by Titan's processors.

const seed = 0x9747b28c;
const m = 0x5bd1e995;

/** murmur2 is Kafka's Utils.murmur2 of data, as an unsigned 32-bit integer. */
export function murmur2(data: Uint8Array): number {
  let h = (seed ^ data.length) >>> 0;
  let i = 0;
  for (; i + 4 <= data.length; i += 4) {
    let k = data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24);
    k = Math.imul(k, m);
    k ^= k >>> 24;
    k = Math.imul(k, m);
    h = Math.imul(h, m) ^ k;
  }
  switch (data.length - i) {
    case 3:
      h ^= data[i + 2] << 16;
    // falls through
    case 2:
      h ^= data[i + 1] << 8;
    // falls through
    case 1:
      h ^= data[i];
      h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h >>> 0;
}

/**
 * partition is the partition Kafka's default partitioner gives key (a string is taken as its
 * UTF-8 bytes) in a topic of `partitions` partitions.
 */
export function partition(key: string | Uint8Array, partitions: number): number {
  if (!Number.isInteger(partitions) || partitions < 1) {
    throw new RangeError(`titan: partition count ${partitions} is not a positive integer`);
  }
  const bytes = typeof key === "string" ? Buffer.from(key, "utf8") : key;
  // Kafka's toPositive masks the sign bit rather than negating the hash.
  return (murmur2(bytes) & 0x7fffffff) % partitions;
}
