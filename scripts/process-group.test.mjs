// node --test: the helper every script uses to start servers leaves nothing behind.
import assert from "node:assert/strict";
import { createConnection } from "node:net";
import { test } from "node:test";
import { groupMembers, startGroup } from "./process-group.mjs";

const portOpen = (port) =>
  new Promise((resolve) => {
    const socket = createConnection({ port, host: "127.0.0.1" });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });

test("stop() ends the whole group (children that ignore SIGTERM included) and frees the port", async () => {
  // Below Linux's ephemeral range (32768 and up), where outgoing connections take ports.
  const port = 10000 + Math.floor(Math.random() * 22000);
  // Like npx → wrangler → workerd: a parent whose child serves the port and ignores SIGTERM.
  const server = `process.on("SIGTERM",()=>{});require("http").createServer((q,s)=>s.end("ok")).listen(${port},"127.0.0.1")`;
  const parent = `require("child_process").spawn(process.execPath,["-e",${JSON.stringify(server)}],{stdio:"inherit"});setInterval(()=>{},1000)`;
  const group = startGroup(process.execPath, ["-e", parent], { port, stdio: "ignore" });
  for (let i = 0; i < 100 && !(await portOpen(port)); i++) {
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(await portOpen(port), true, "the child serves the port");
  assert.ok(groupMembers(group.pgid).length >= 2, "parent and child are in the group");

  await group.stop({ timeoutMs: 1000 });
  assert.deepEqual(groupMembers(group.pgid), []);
  assert.equal(await portOpen(port), false);
});
