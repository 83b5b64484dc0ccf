'use strict';
// The seed design's worker: a BullMQ worker (concurrency 10) that buffers job items per source
// and writes 100 at a time with one MongoDB bulkWrite of $set upserts; a partial buffer is
// written after FLUSH_MS. A job is acknowledged when it is buffered, not when it is written.
// Usage: node worker.js --redis URL --queue NAME --mongodb URL --db NAME [--limit N]
//   --limit N: BullMQ's limiter, N jobs per second (0 or absent: off).
// Prints {"ready": true} once listening, then after every write one JSON line with the
// cumulative items written, bulk writes and MongoDB commands (round trips) so far.
const { Worker } = require('bullmq');
const { MongoClient } = require('mongodb');
const { options, redisConnection } = require('./common');

const BATCH = 100;
const CONCURRENCY = 10;
const FLUSH_MS = 1000;

async function main() {
  const args = options(process.argv);
  const client = new MongoClient(args.mongodb, { monitorCommands: true });
  const counts = { written: 0, bulkWrites: 0, commands: 0 };
  client.on('commandStarted', () => {
    counts.commands += 1;
  });
  await client.connect();
  const jobs = client.db(args.db).collection('jobs');
  const buffers = new Map(); // source -> items waiting to be written
  const timers = new Map();

  async function flush(source) {
    clearTimeout(timers.get(source));
    timers.delete(source);
    const items = buffers.get(source) || [];
    buffers.delete(source);
    if (items.length === 0) return;
    await jobs.bulkWrite(
      items.map((item) => ({
        updateOne: { filter: { _id: `${item.source}#${item.guid}` }, update: { $set: item }, upsert: true },
      })),
      { ordered: false },
    );
    counts.written += items.length;
    counts.bulkWrites += 1;
    process.stdout.write(JSON.stringify(counts) + '\n');
  }

  const limit = Number(args.limit || 0);
  const worker = new Worker(
    args.queue,
    async (job) => {
      const item = job.data;
      const buffer = buffers.get(item.source) || [];
      buffers.set(item.source, buffer);
      buffer.push(item);
      if (buffer.length >= BATCH) {
        await flush(item.source);
      } else if (!timers.has(item.source)) {
        timers.set(item.source, setTimeout(() => flush(item.source).catch(console.error), FLUSH_MS));
      }
    },
    {
      connection: redisConnection(args.redis),
      concurrency: CONCURRENCY,
      ...(limit > 0 ? { limiter: { max: limit, duration: 1000 } } : {}),
    },
  );
  await worker.waitUntilReady();
  process.stdout.write(JSON.stringify({ ready: true }) + '\n');

  async function stop() {
    await worker.close();
    await Promise.all([...buffers.keys()].map(flush));
    await client.close();
    process.exit(0);
  }
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((error) => {
  process.stderr.write(`${error.stack || error}\n`);
  process.exit(1);
});
