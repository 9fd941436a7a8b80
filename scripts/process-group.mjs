// Starting servers (wrangler dev and its workerd children) so that stopping them stops all
// of them. `npx` passes no signal on to wrangler, nor wrangler to workerd in every case:
// each server runs in its own process group, and stop() signals the whole group, escalates
// to SIGKILL, and waits until its port is free. Used by bench, start and the browser tests.
import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { createConnection } from "node:net";

const running = new Set();

/** Stops every group still running; hooked to exit, SIGINT and SIGTERM once. */
let hooked = false;
function hookExit() {
  if (hooked) {
    return;
  }
  hooked = true;
  const killAll = (signal) => {
    for (const group of running) {
      group.signal(signal);
    }
  };
  process.on("exit", () => killAll("SIGKILL"));
  for (const signal of ["SIGINT", "SIGTERM"]) {
    process.on(signal, async () => {
      await Promise.all([...running].map((group) => group.stop()));
      process.exit(signal === "SIGINT" ? 130 : 143);
    });
  }
}

function portOpen(port) {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: "127.0.0.1" });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** Process ids whose process group is `pgid` (Linux /proc). */
export function groupMembers(pgid) {
  const members = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) {
      continue;
    }
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // pid (comm) state ppid pgrp ...; comm may hold spaces, so read after the last ')'.
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[2]) === pgid) {
        members.push({
          pid: Number(entry),
          comm: stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")),
        });
      }
    } catch {
      // the process ended while we looked
    }
  }
  return members;
}

/**
 * Spawns `command` in a new process group. `port` (optional) is the port it serves, which
 * stop() waits to see free.
 */
/**
 * @param {string} command
 * @param {string[]} args
 * @param {import("node:child_process").SpawnOptions & { port?: number }} [settings]
 */
export function startGroup(command, args, settings = {}) {
  const { port, ...options } = settings;
  hookExit();
  const child = spawn(command, args, { ...options, detached: true });
  if (child.pid === undefined) {
    throw new Error(`could not start ${command}`);
  }
  const pgid = child.pid;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  const group = {
    child,
    pgid,
    signal(signal) {
      try {
        process.kill(-pgid, signal);
      } catch {
        // the group is gone already
      }
    },
    async stop({ timeoutMs = 10_000 } = {}) {
      group.signal("SIGTERM");
      const deadline = Date.now() + timeoutMs;
      while (groupMembers(pgid).length > 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
      }
      if (groupMembers(pgid).length > 0) {
        group.signal("SIGKILL");
        while (groupMembers(pgid).length > 0) {
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      await Promise.race([exited, new Promise((r) => setTimeout(r, 1000))]);
      while (port && (await portOpen(port))) {
        await new Promise((r) => setTimeout(r, 100));
      }
      running.delete(group);
    },
  };
  running.add(group);
  return group;
}
