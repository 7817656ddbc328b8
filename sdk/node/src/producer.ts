// Producer: the typed sends of every input, on @platformatic/kafka.
//
// Every send validates first (an InvalidError naming the field, and nothing sent), then keys the
// record as its topic's processor reads it and places it in the partition Titan's partitioner
// gives that key, for the topic's partition count as the broker reports it. The client is
// idempotent with acks=all: a retried request is written once, and an acknowledged record
// survives the loss of the partition's leader.
//
// One produce request is in flight at a time; records sent meanwhile wait and go out together in
// the next one. That is a correctness choice, not only a batching one: @platformatic/kafka 1.x
// numbers an idempotent batch from sequence counters it advances only when the batch is
// acknowledged, so two requests in flight to one partition carry the same sequence numbers and the
// broker acknowledges the second as a duplicate of the first without writing it.

import { Producer as KafkaProducer, ProduceAcks } from "@platformatic/kafka";
import { ClosedError, InvalidError, OptionError, Reason } from "./errors.js";
import { partition } from "./partition.js";
import { refuseDerived } from "./ids.js";
import { checkTopic, namespaced, Topics } from "./topics.js";
import { shown } from "./validate.js";
import * as records from "./records.js";
import type { TitanRecord } from "./records.js";
import type { Command as InventoryCommand } from "./gen/titan/inventory/v1/inventory_pb.js";
import type { OrderEvent } from "./gen/titan/orders/v1/orders_pb.js";
import type { Command as PricingCommand } from "./gen/titan/pricing/v1/pricing_pb.js";

/** DefaultClientID names the producer to the brokers unless clientId is given. */
export const DefaultClientID = "titan-sdk";

export interface ProducerOptions {
  /** Seed brokers, "host:port". */
  brokers: string[];
  /** The Kafka client id; DefaultClientID when left out. */
  clientId?: string;
  /** The deployment's namespace: topics are "<namespace>.<name>"; none when left out. */
  namespace?: string;
  /** How long one request to a broker may take before it is retried, in ms (default 10,000). */
  requestTimeoutMs?: number;
  /**
   * How many times a failed request is retried before the send fails (default 5, at least 2:
   * @platformatic/kafka retries an idempotent producer's requests forever when told fewer).
   */
  retries?: number;
  /** The most records one produce request carries (default 1,000). */
  maxBatch?: number;
}

/** Ack is where Kafka stored a record. */
export interface Ack {
  topic: string;
  partition: number;
  offset: bigint;
}

interface Pending {
  record: TitanRecord;
  resolve: (ack: Ack) => void;
  reject: (err: Error) => void;
}

interface Config {
  brokers: string[];
  clientId: string;
  namespace: string;
  requestTimeoutMs: number;
  retries: number;
  maxBatch: number;
}

function checkOptions(o: ProducerOptions): Config {
  if (o === null || typeof o !== "object") throw new OptionError("options must be an object");
  if (!Array.isArray(o.brokers) || o.brokers.length === 0) throw new OptionError("brokers: no seed brokers");
  o.brokers.forEach((b, i) => {
    if (typeof b !== "string" || !/^[^\s:]+:\d+$/.test(b)) {
      throw new OptionError(`brokers[${i}]: ${JSON.stringify(b)} is not host:port`);
    }
  });
  const clientId = o.clientId ?? DefaultClientID;
  if (typeof clientId !== "string" || clientId === "" || /\p{Cc}/u.test(clientId)) {
    throw new OptionError(`clientId: ${JSON.stringify(clientId)} is empty or has a control character`);
  }
  const namespace = o.namespace ?? "";
  if (typeof namespace !== "string") throw new OptionError("namespace: not a string");
  for (const t of Object.values(Topics)) {
    const bad = checkTopic(namespaced(namespace, t));
    if (bad !== undefined) throw new OptionError(`namespace: topic ${bad}`);
  }
  const count = (name: string, v: number | undefined, def: number, min: number): number => {
    if (v === undefined) return def;
    if (!Number.isSafeInteger(v) || v < min) throw new OptionError(`${name}: ${shown(v)} is not an integer >= ${min}`);
    return v;
  };
  return {
    brokers: [...o.brokers],
    clientId,
    namespace,
    requestTimeoutMs: count("requestTimeoutMs", o.requestTimeoutMs, 10_000, 1),
    retries: count("retries", o.retries, 5, 2),
    maxBatch: count("maxBatch", o.maxBatch, 1000, 1),
  };
}

// An input argument that is not an object at all is refused like a missing message.
function given<T>(in_: T): T {
  if (in_ === undefined || in_ === null || typeof in_ !== "object") throw new InvalidError("", Reason.nilMessage);
  return in_;
}

// refused passes a caller's ready-made record once its checks have passed, unless its id (field)
// has the form of a derived one, which only the typed sends make (as the Go SDK's raw sends refuse).
function refused(rec: TitanRecord, field: string, id: string | undefined): TitanRecord {
  refuseDerived(field, id ?? "");
  return rec;
}

/**
 * Producer writes a shop's inputs to Titan's topics. It connects on the first send. Sends may be
 * made concurrently; each resolves with the record's Ack once Kafka has acknowledged it, or
 * rejects with InvalidError (nothing sent), ClosedError, or the Kafka client's error.
 *
 * A send that failed may or may not have been written; send it again with the same idempotency key
 * (the typed sends derive the record's id from it) or the same id (the raw sends), and the same
 * timestampMs, and Titan applies it once.
 */
export class Producer {
  readonly #cfg: Config;
  readonly #now: () => number;
  #client: KafkaProducer | undefined;
  #queue: Pending[] = [];
  // The running drain, if any. It is cleared by the drain itself, in the same step in which it
  // finds the queue empty: a send made by a caller resumed by the last acknowledgement then
  // starts a new drain rather than queue behind one that has already ended.
  #pump: Promise<void> | undefined;
  #closed = false;

  constructor(options: ProducerOptions) {
    this.#cfg = checkOptions(options);
    this.#now = Date.now;
  }

  /** The namespace's name of a topic. */
  topic(name: string): string {
    return namespaced(this.#cfg.namespace, name);
  }

  // Inventory commands, keyed by SKU.

  /**
   * sendInventoryCommand sends a command built by the caller, after the same checks; its id may not
   * start with DerivedPrefix (derived_id).
   */
  sendInventoryCommand(cmd: InventoryCommand): Promise<Ack> {
    return this.#send(() => refused(records.inventoryRecord(given(cmd)), "command_id", cmd?.commandId));
  }
  restock(in_: records.Restock): Promise<Ack> {
    return this.#send(() => records.inventoryRecord(records.restockCommand(given(in_), this.#now)));
  }
  reserve(in_: records.Reserve): Promise<Ack> {
    return this.#send(() => records.inventoryRecord(records.reserveCommand(given(in_), this.#now)));
  }
  commit(in_: records.Commit): Promise<Ack> {
    return this.#send(() => records.inventoryRecord(records.commitCommand(given(in_), this.#now)));
  }
  release(in_: records.Release): Promise<Ack> {
    return this.#send(() => records.inventoryRecord(records.releaseCommand(given(in_), this.#now)));
  }

  // Order events, keyed by order id.

  /** publishOrderEvent sends an order event built by the caller, as sendInventoryCommand does. */
  publishOrderEvent(ev: OrderEvent): Promise<Ack> {
    return this.#send(() => refused(records.orderEventRecord(given(ev)), "event_id", ev?.eventId));
  }
  placeOrder(in_: records.PlaceOrder): Promise<Ack> {
    return this.#send(() => records.orderEventRecord(records.placedEvent(given(in_), this.#now)));
  }
  paymentFailed(in_: records.PaymentFailed): Promise<Ack> {
    return this.#send(() => records.orderEventRecord(records.paymentFailedEvent(given(in_), this.#now)));
  }
  /** markPaid notes a payment captured for an order in its history; the saga does not wait for it. */
  markPaid(in_: records.MarkPaid): Promise<Ack> {
    return this.#send(() => records.orderEventRecord(records.paidEvent(given(in_), this.#now)));
  }
  cancelOrder(in_: records.CancelOrder): Promise<Ack> {
    return this.#send(() => records.orderEventRecord(records.cancelledEvent(given(in_), this.#now)));
  }

  // Pricing commands, keyed by SKU.

  /** sendPricingCommand sends a pricing command built by the caller, as sendInventoryCommand does. */
  sendPricingCommand(cmd: PricingCommand): Promise<Ack> {
    return this.#send(() => refused(records.pricingRecord(given(cmd)), "command_id", cmd?.commandId));
  }
  setBasePrice(in_: records.SetBasePrice): Promise<Ack> {
    return this.#send(() => records.pricingRecord(records.setBaseCommand(given(in_), this.#now)));
  }
  upsertCampaign(in_: records.UpsertCampaign): Promise<Ack> {
    return this.#send(() => records.pricingRecord(records.upsertCampaignCommand(given(in_), this.#now)));
  }
  endCampaign(in_: records.EndCampaign): Promise<Ack> {
    return this.#send(() => records.pricingRecord(records.endCampaignCommand(given(in_), this.#now)));
  }

  /**
   * purchase sends a flash-sale purchase, keyed by the buyer's key in the sale. A sale itself is
   * created through Titan's API (POST /v1/flash-sales), which sets its units aside first; clients
   * only buy.
   */
  purchase(in_: records.Purchase): Promise<Ack> {
    return this.#send(() => records.purchaseRecord(given(in_), this.#now));
  }

  /** recordView sends a storefront's product view, keyed by user id. */
  recordView(in_: records.RecordView): Promise<Ack> {
    return this.#send(() => records.viewRecord(records.viewEvent(given(in_), this.#now)));
  }

  /** flush resolves once every send made so far has been acknowledged or has failed. */
  async flush(): Promise<void> {
    while (this.#pump !== undefined) await this.#pump;
  }

  /**
   * close refuses later sends with ClosedError, waits for the sends already made to be
   * acknowledged or fail, then closes the connections.
   */
  async close(): Promise<void> {
    this.#closed = true;
    await this.flush();
    const client = this.#client;
    this.#client = undefined;
    await client?.close();
  }

  #send(build: () => TitanRecord): Promise<Ack> {
    if (this.#closed) return Promise.reject(new ClosedError());
    let record: TitanRecord;
    try {
      record = build();
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<Ack>((resolve, reject) => {
      this.#queue.push({ record, resolve, reject });
      this.#pump ??= this.#drain();
    });
  }

  // drain sends what is queued, one request at a time, until the queue is empty.
  async #drain(): Promise<void> {
    // Entered synchronously from #send, before #pump is set: yield once so that the assignment
    // happens before the loop can end and clear it.
    await Promise.resolve();
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue.splice(0, this.#cfg.maxBatch);
        try {
          const acks = await this.#write(batch.map((p) => p.record));
          batch.forEach((p, i) => p.resolve(acks[i]));
        } catch (err) {
          batch.forEach((p) => p.reject(err instanceof Error ? err : new Error(String(err))));
          // The failed request may have been written in part, and the client would number the
          // next one as it numbered this one: the broker would take it for a duplicate. A new
          // client starts a new producer id, whose sequences nothing has used.
          const client = this.#client;
          this.#client = undefined;
          await client?.close().catch(() => {});
        }
      }
    } finally {
      // In the step that found the queue empty, with no await between (see #pump).
      this.#pump = undefined;
    }
  }

  #kafka(): KafkaProducer {
    this.#client ??= new KafkaProducer({
      clientId: this.#cfg.clientId,
      bootstrapBrokers: this.#cfg.brokers,
      idempotent: true,
      acks: ProduceAcks.ALL,
      timeout: this.#cfg.requestTimeoutMs,
      retries: this.#cfg.retries,
      retryDelay: 250,
    });
    return this.#client;
  }

  // write produces recs in one request, each in the partition its key hashes to, and returns
  // where each was written.
  async #write(recs: TitanRecord[]): Promise<Ack[]> {
    const client = this.#kafka();
    const topics = [...new Set(recs.map((r) => this.topic(r.topic)))];
    const md = await client.metadata({ topics });
    const messages = recs.map((r) => {
      const topic = this.topic(r.topic);
      const n = md.topics.get(topic)?.partitionsCount;
      if (n === undefined || n < 1) throw new Error(`titan: no partitions known for topic ${topic}`);
      return { topic, key: Buffer.from(r.key, "utf8"), value: Buffer.from(r.value), partition: partition(r.key, n) };
    });
    const res = await client.send({ messages });
    const base = new Map<string, bigint>();
    for (const o of res.offsets ?? []) base.set(`${o.partition}/${o.topic}`, o.offset);
    // Kafka writes one partition's records of a request at consecutive offsets, in order.
    const next = new Map<string, bigint>();
    return messages.map((m) => {
      const at = `${m.partition}/${m.topic}`;
      const first = base.get(at);
      if (first === undefined) throw new Error(`titan: no acknowledgement for ${m.topic} partition ${m.partition}`);
      const offset = next.get(at) ?? first;
      next.set(at, offset + 1n);
      return { topic: m.topic, partition: m.partition, offset };
    });
  }
}
