/**
 * What every relayctl command uses: the injected I/O, calling the admin API, printing
 * tables or JSON, and reading flags. Runtime-neutral: fetch, output and files are injected.
 */
import { z } from "zod";

export type CliIo = {
  fetch: (request: Request) => Promise<Response>;
  env: {
    RELAY_URL?: string | undefined;
    ADMIN_TOKEN?: string | undefined;
    GITLAB_TOKEN?: string | undefined;
  };
  /** Waits between polls (connect follows verification); tests pass one that returns at once. */
  sleep: (ms: number) => Promise<void>;
  out: (line: string) => void;
  err: (line: string) => void;
  readFile: (path: string) => Promise<string>;
  confirm: (question: string) => Promise<boolean>;
};

export type Flags = Record<string, string | boolean | undefined>;
export type Command = {
  usage: string;
  summary: string;
  flags?: Record<string, "string" | "boolean">;
  run: (args: string[], flags: Flags, ctx: Ctx) => Promise<number>;
};
export type Ctx = { io: CliIo; json: boolean };

export class CliError extends Error {}

export const errorBody = z.object({ error: z.object({ code: z.string(), message: z.string() }) });
export const rows = z.array(z.record(z.string(), z.unknown()));

export function str(flags: Flags, name: string): string | undefined {
  const v = flags[name];
  return typeof v === "string" ? v : undefined;
}

export function required(value: string | undefined, what: string): string {
  if (!value) {
    throw new CliError(`missing ${what}`);
  }
  return value;
}

export function relayUrl(ctx: Ctx): string {
  return required(
    ctx.io.env.RELAY_URL,
    "RELAY_URL (the relay's base URL) in the environment",
  ).replace(/\/+$/, "");
}

/** The admin API, with ADMIN_TOKEN. */
export function api(ctx: Ctx, method: string, path: string, body?: unknown): Promise<unknown> {
  const token = required(ctx.io.env.ADMIN_TOKEN, "ADMIN_TOKEN in the environment");
  return call(ctx, method, `/admin${path}`, body, token);
}

/** A path of the relay's public side (the connect API); no relay secret. */
export async function call(
  ctx: Ctx,
  method: string,
  path: string,
  body?: unknown,
  bearer?: string,
): Promise<unknown> {
  const base = relayUrl(ctx);
  const headers = new Headers({ accept: "application/json" });
  if (bearer) {
    headers.set("authorization", `Bearer ${bearer}`);
  }
  const init: RequestInit = { method, headers };
  if (body !== undefined) {
    headers.set("content-type", "application/json");
    init.body = JSON.stringify(body);
  }
  let response: Response;
  try {
    response = await ctx.io.fetch(new Request(`${base}${path}`, init));
  } catch (err) {
    throw new CliError(`cannot reach ${base}: ${String(err)}`);
  }
  const text = await response.text();
  let parsed: unknown = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  if (!response.ok) {
    const e = errorBody.safeParse(parsed);
    throw new CliError(
      e.success
        ? `${response.status} ${e.data.error.code}: ${e.data.error.message}`
        : `HTTP ${response.status}`,
    );
  }
  return parsed;
}

export function cell(value: unknown): string {
  if (value === null || value === undefined) {
    return "-";
  }
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

/** Prints JSON with --json, else a table (lists) or `key: value` lines (one object). */
export function show(ctx: Ctx, value: unknown, columns?: string[]): void {
  if (ctx.json) {
    ctx.io.out(JSON.stringify(value, null, 2));
    return;
  }
  const list = rows.safeParse(value);
  if (list.success && columns) {
    const widths = columns.map((c) =>
      Math.max(c.length, ...list.data.map((r) => cell(r[c]).length)),
    );
    ctx.io.out(
      columns
        .map((c, i) => c.toUpperCase().padEnd(widths[i] ?? 0))
        .join("  ")
        .trimEnd(),
    );
    for (const row of list.data) {
      ctx.io.out(
        columns
          .map((c, i) => cell(row[c]).padEnd(widths[i] ?? 0))
          .join("  ")
          .trimEnd(),
      );
    }
    if (list.data.length === 0) {
      ctx.io.out("(none)");
    }
    return;
  }
  const obj = z.record(z.string(), z.unknown()).safeParse(value);
  if (obj.success) {
    for (const [k, v] of Object.entries(obj.data)) {
      ctx.io.out(`${k}: ${cell(v)}`);
    }
  } else {
    ctx.io.out(cell(value));
  }
}

export function listOf(value: unknown, key: string): unknown[] {
  const parsed = z.record(z.string(), z.unknown()).safeParse(value);
  const list = parsed.success ? parsed.data[key] : undefined;
  return Array.isArray(list) ? list : [];
}

export function query(flags: Flags, names: string[]): string {
  const params = new URLSearchParams();
  for (const name of names) {
    const v = str(flags, name);
    if (v) {
      params.set(name.replaceAll("-", "_"), v);
    }
  }
  const q = params.toString();
  return q ? `?${q}` : "";
}

export function positiveInt(value: string | undefined, what: string): number | undefined {
  if (value === undefined) {
    return undefined;
  }
  if (!/^\d+$/.test(value) || Number(value) <= 0) {
    throw new CliError(`${what} must be a positive integer`);
  }
  return Number(value);
}
