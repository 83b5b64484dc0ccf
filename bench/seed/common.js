'use strict';
// Shared by the seed harness's producer and worker: settings from the command line.

function options(argv) {
  const parsed = {};
  for (let index = 2; index < argv.length; index += 2) {
    const name = argv[index].replace(/^--/, '');
    const value = argv[index + 1];
    if (parsed[name] === undefined) parsed[name] = value;
    else parsed[name] = [].concat(parsed[name], value);
  }
  return parsed;
}

function redisConnection(url) {
  const parsed = new URL(url);
  return {
    host: parsed.hostname,
    port: Number(parsed.port || 6379),
    db: Number((parsed.pathname || '/0').slice(1) || 0),
    maxRetriesPerRequest: null, // BullMQ's workers require it
  };
}

module.exports = { options, redisConnection };
