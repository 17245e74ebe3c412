/**
 * What the bench's `paced-devices` scenario (issue 23) costs the server before anyone talks:
 * 50 accounts registered, then 100 line clients whose first line proves one (`/identify`, a
 * scrypt check each), two per account, and no message. The server CPU it prints is what the
 * scenario's figure holds besides the chat itself (BENCHMARKS.md, "One account on two devices").
 *
 *     deno run -A tools/devices_logins.ts [CLIENTS]
 *
 * @module
 */

import { runBench } from "../src/bench/run.ts";
import { startParley } from "../src/bench/servers.ts";
import { deviceFirstLine, LOGINS_PER_SOURCE, registerAccounts } from "../src/bench/devices.ts";

const clients = Number(Deno.args[0] ?? 100);
const server = await startParley({ maxClients: clients + 100 });
try {
  await registerAccounts(server.host, server.port, clients);
  const report = await runBench({
    host: server.host,
    port: server.port,
    serverPid: server.pid,
    clients,
    messages: 0,
    rate: 10,
    size: 64,
    idle: 0,
    stalled: 0,
    firstLine: deviceFirstLine(clients),
    connector: { perSource: LOGINS_PER_SOURCE },
  });
  console.log(
    `${clients} clients proving ${
      clients / 2
    } accounts, no message: connect ${report.connectMs} ms, ` +
      `server CPU ${report.server?.cpuSeconds} s (${report.server?.systemSeconds} s system), ` +
      `peak RSS ${report.server?.peakRssMiB} MiB`,
  );
} finally {
  await server.stop();
}
