'use strict';
// The seed design's producer: fetch each feed, parse it with xml2js, and enqueue one BullMQ job
// per item (jobId = source#guid, so an item already waiting is not queued twice) with addBulk.
// Usage: node producer.js --redis URL --queue NAME --feed SOURCE=URL [--feed ...]
// Prints one JSON line: {"enqueued": n, "skipped": n} (skipped: items without guid or link).
const { Queue } = require('bullmq');
const { parseStringPromise } = require('xml2js');
const { options, redisConnection } = require('./common');

function text(value) {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value.trim();
  if (typeof value === 'object' && '_' in value) return String(value._).trim();
  return '';
}

function job(item, source) {
  const guid = text(item.guid) || text(item.link);
  if (!guid) return null;
  const media = item['media:content'];
  return {
    name: 'item',
    data: {
      source,
      guid,
      title: text(item.title),
      link: text(item.link),
      description: text(item.description),
      content: text(item['content:encoded']),
      company: text(item['job_listing:company']),
      location: text(item['job_listing:location']),
      jobType: text(item['job_listing:job_type']),
      category: text(item.category),
      logo: media && media.$ ? media.$.url : '',
      pubDate: text(item.pubDate),
    },
    // BullMQ 5 refuses ':' in custom ids; the guids here are URLs.
    opts: { jobId: `${source}#${encodeURIComponent(guid)}`, removeOnComplete: true, removeOnFail: 1000 },
  };
}

async function produce(queue, source, url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  const parsed = await parseStringPromise(await response.text(), { explicitArray: false });
  const items = [].concat((parsed.rss && parsed.rss.channel && parsed.rss.channel.item) || []);
  const jobs = items.map((item) => job(item, source)).filter(Boolean);
  await queue.addBulk(jobs);
  return { enqueued: jobs.length, skipped: items.length - jobs.length };
}

async function main() {
  const args = options(process.argv);
  const queue = new Queue(args.queue, { connection: redisConnection(args.redis) });
  const feeds = [].concat(args.feed || []).map((spec) => spec.split(/=(.*)/s));
  const results = await Promise.all(feeds.map(([source, url]) => produce(queue, source, url)));
  await queue.close();
  const total = { enqueued: 0, skipped: 0 };
  for (const result of results) {
    total.enqueued += result.enqueued;
    total.skipped += result.skipped;
  }
  process.stdout.write(JSON.stringify(total) + '\n');
}

main().catch((error) => {
  process.stderr.write(`${error.stack || error}\n`);
  process.exit(1);
});
