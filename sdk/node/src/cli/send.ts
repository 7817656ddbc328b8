#!/usr/bin/env node
// titan-send: the SDK's sends from the command line, for scripts and for the tests that check a
// Node-produced record is processed like a Go-produced one (internal/instance/node_sdk_test.go).
//
//   titan-send --brokers host:port[,host:port] [--namespace NS] [--client-id ID] < sends.jsonl
//
// Each input line is {"send": "<method>", "args": {...}}, <method> one of the Producer's typed
// sends (restock, reserve, commit, release, placeOrder, markPaid, paymentFailed, cancelOrder, setBasePrice,
// upsertCampaign, endCampaign, purchase, recordView) and args its input. Each output line, in
// input order, is where the record was written ({"topic", "partition", "offset"}) or why it was
// not ({"error"}, with "field" and "reason" for a refused record). It exits 1 if any send failed.

import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { InvalidError, OptionError, Producer, type Ack } from "../index.js";

const sends = [
  "restock", "reserve", "commit", "release", "placeOrder", "markPaid", "paymentFailed", "cancelOrder",
  "setBasePrice", "upsertCampaign", "endCampaign", "purchase", "recordView",
] as const;
type Send = (typeof sends)[number];

type Outcome = Record<string, unknown>;

function outcome(p: Promise<Ack>): Promise<Outcome> {
  return p.then(
    (ack) => ({ topic: ack.topic, partition: ack.partition, offset: Number(ack.offset) }),
    (err: unknown) =>
      err instanceof InvalidError
        ? { error: err.message, field: err.field, reason: err.reason }
        : { error: err instanceof Error ? err.message : String(err) },
  );
}

function dispatch(p: Producer, line: string): Promise<Ack> {
  let req: { send?: unknown; args?: unknown };
  try {
    req = JSON.parse(line);
  } catch (err) {
    return Promise.reject(new Error(`not JSON: ${(err as Error).message}`));
  }
  if (typeof req?.send !== "string" || !(sends as readonly string[]).includes(req.send)) {
    return Promise.reject(new Error(`send ${JSON.stringify(req?.send)} is not one of ${sends.join(", ")}`));
  }
  const send = p[req.send as Send] as (args: unknown) => Promise<Ack>;
  return send.call(p, req.args);
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { brokers: { type: "string" }, namespace: { type: "string" }, "client-id": { type: "string" } },
  });
  let p: Producer;
  try {
    p = new Producer({
      brokers: (values.brokers ?? "").split(",").filter((b) => b !== ""),
      namespace: values.namespace,
      clientId: values["client-id"],
    });
  } catch (err) {
    if (err instanceof OptionError) {
      process.stderr.write(`titan-send: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  // Every line is sent as it is read, so the records go out in batches; the outcomes are written
  // in input order once all are known.
  const pending: Promise<Outcome>[] = [];
  for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
    if (line.trim() !== "") pending.push(outcome(dispatch(p, line)));
  }
  const outcomes = await Promise.all(pending);
  await p.close();
  for (const o of outcomes) process.stdout.write(JSON.stringify(o) + "\n");
  return outcomes.some((o) => "error" in o) ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`titan-send: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exitCode = 2;
  },
);
