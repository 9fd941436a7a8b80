/**
 * relayctl: the operators' client for the admin API. The core here is runtime-neutral
 * (fetch, output and files are injected) so tests can run it against the Worker itself;
 * cli/main.ts wires it to Node (process, fs, a confirmation prompt).
 */
import { z } from "zod";
import { normalize } from "../src/events/normalize";
import { classifyEvent } from "../src/gitlab/event-kinds";
import { claimedProject } from "../src/gitlab/identity-fields";
import { asJsonObject } from "../src/lib/json-object";

export type CliIo = {
  fetch: (request: Request) => Promise<Response>;
  env: { RELAY_URL?: string | undefined; ADMIN_TOKEN?: string | undefined };
  out: (line: string) => void;
  err: (line: string) => void;
  readFile: (path: string) => Promise<string>;
  confirm: (question: string) => Promise<boolean>;
};

type Flags = Record<string, string | boolean | undefined>;
type Command = {
  usage: string;
  summary: string;
  flags?: Record<string, "string" | "boolean">;
  run: (args: string[], flags: Flags, ctx: Ctx) => Promise<number>;
};
type Ctx = { io: CliIo; json: boolean };

class CliError extends Error {}

const errorBody = z.object({ error: z.object({ code: z.string(), message: z.string() }) });
const rows = z.array(z.record(z.string(), z.unknown()));

function str(flags: Flags, name: string): string | undefined {
  const v = flags[name];
  return typeof v === "string" ? v : undefined;
}

function required(value: string | undefined, what: string): string {
  if (!value) {
    throw new CliError(`missing ${what}`);
  }
  return value;
}

async function api(ctx: Ctx, method: string, path: string, body?: unknown): Promise<unknown> {
  const base = required(
    ctx.io.env.RELAY_URL,
    "RELAY_URL (the relay's base URL) in the environment",
  );
  const token = required(ctx.io.env.ADMIN_TOKEN, "ADMIN_TOKEN in the environment");
  const headers = new Headers({ authorization: `Bearer ${token}`, accept: "application/json" });
  const init: RequestInit = { method, headers };
  if (body !== undefined) {
    headers.set("content-type", "application/json");
    init.body = JSON.stringify(body);
  }
  let response: Response;
  try {
    response = await ctx.io.fetch(new Request(`${base.replace(/\/+$/, "")}/admin${path}`, init));
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

function cell(value: unknown): string {
  if (value === null || value === undefined) {
    return "-";
  }
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

/** Prints JSON with --json, else a table (lists) or `key: value` lines (one object). */
function show(ctx: Ctx, value: unknown, columns?: string[]): void {
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

function listOf(value: unknown, key: string): unknown[] {
  const parsed = z.record(z.string(), z.unknown()).safeParse(value);
  const list = parsed.success ? parsed.data[key] : undefined;
  return Array.isArray(list) ? list : [];
}

function query(flags: Flags, names: string[]): string {
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

function positiveInt(value: string | undefined, what: string): number | undefined {
  if (value === undefined) {
    return undefined;
  }
  if (!/^\d+$/.test(value) || Number(value) <= 0) {
    throw new CliError(`${what} must be a positive integer`);
  }
  return Number(value);
}

const COMMANDS: Record<string, Command> = {
  "instances add": {
    usage: "instances add URL --token API_TOKEN",
    summary: "register a GitLab instance and the API token the relay uses on it",
    flags: { token: "string" },
    run: async ([url], flags, ctx) => {
      const body = {
        url: required(url, "URL"),
        api_token: required(str(flags, "token"), "--token"),
      };
      show(ctx, await api(ctx, "POST", "/instances", body));
      return 0;
    },
  },
  "instances list": {
    usage: "instances list",
    summary: "list registered instances",
    run: async (_a, _f, ctx) => {
      const res = await api(ctx, "GET", "/instances");
      show(ctx, ctx.json ? res : listOf(res, "instances"), [
        "id",
        "url",
        "credential_ok",
        "feedback_paused_until",
      ]);
      return 0;
    },
  },
  "instances update": {
    usage: "instances update ID [--url URL] [--token API_TOKEN]",
    summary: "change an instance's URL or API token",
    flags: { url: "string", token: "string" },
    run: async ([id], flags, ctx) => {
      const body: Record<string, string> = {};
      const url = str(flags, "url");
      const token = str(flags, "token");
      if (url) {
        body.url = url;
      }
      if (token) {
        body.api_token = token;
      }
      show(
        ctx,
        await api(ctx, "PATCH", `/instances/${encodeURIComponent(required(id, "ID"))}`, body),
      );
      return 0;
    },
  },
  "instances remove": {
    usage: "instances remove ID",
    summary: "remove an instance no project uses",
    run: async ([id], _f, ctx) => {
      await api(ctx, "DELETE", `/instances/${encodeURIComponent(required(id, "ID"))}`);
      show(ctx, { removed: id });
      return 0;
    },
  },
  "projects add": {
    usage:
      "projects add --instance URL (--project-id N --path GROUP/PROJECT | --namespace GROUP) [--signing-secret whsec_...]",
    summary:
      "register a project or group hook; prints the webhook URL, the token (once) and the GitLab settings",
    flags: {
      instance: "string",
      "project-id": "string",
      path: "string",
      namespace: "string",
      "signing-secret": "string",
    },
    run: async (_a, flags, ctx) => {
      const instance = required(str(flags, "instance"), "--instance");
      const namespace = str(flags, "namespace");
      const body: Record<string, unknown> = namespace
        ? { instance_url: instance, namespace }
        : {
            instance_url: instance,
            project_id: positiveInt(
              required(str(flags, "project-id"), "--project-id or --namespace"),
              "--project-id",
            ),
            path: required(str(flags, "path"), "--path"),
          };
      const secret = str(flags, "signing-secret");
      if (secret) {
        body.signing_secret = secret;
      }
      const res = await api(ctx, "POST", "/projects", body);
      if (ctx.json) {
        show(ctx, res);
        return 0;
      }
      const created = z
        .object({
          id: z.string(),
          webhook_url: z.string(),
          token: z.string(),
          gitlab_settings: z.object({ where: z.string(), trigger: z.array(z.string()) }),
        })
        .parse(res);
      ctx.io.out(`registered ${created.id}`);
      ctx.io.out(`In GitLab, open ${created.gitlab_settings.where} and add a webhook:`);
      ctx.io.out(`  URL:           ${created.webhook_url}`);
      ctx.io.out(`  Secret token:  ${created.token}   (shown once: store it now)`);
      ctx.io.out(`  Trigger:       ${created.gitlab_settings.trigger.join(", ")}`);
      ctx.io.out("  SSL verification: enabled");
      return 0;
    },
  },
  "projects list": {
    usage: "projects list",
    summary: "list registrations (never their secrets)",
    run: async (_a, _f, ctx) => {
      const res = await api(ctx, "GET", "/projects");
      show(ctx, ctx.json ? res : listOf(res, "projects"), [
        "id",
        "kind",
        "instance_url",
        "project_id",
        "path",
        "signed",
      ]);
      return 0;
    },
  },
  "projects show": {
    usage: "projects show ID",
    summary: "show a registration and its tokens",
    run: async ([id], _f, ctx) => {
      show(ctx, await api(ctx, "GET", `/projects/${encodeURIComponent(required(id, "ID"))}`));
      return 0;
    },
  },
  "projects remove": {
    usage: "projects remove ID",
    summary: "remove a registration; its tokens stop working",
    run: async ([id], _f, ctx) => {
      await api(ctx, "DELETE", `/projects/${encodeURIComponent(required(id, "ID"))}`);
      show(ctx, { removed: id });
      return 0;
    },
  },
  "tokens rotate": {
    usage: "tokens rotate PROJECT_ID [--grace SECONDS]",
    summary: "issue a new webhook token; earlier ones work for the grace period (default 24 h)",
    flags: { grace: "string" },
    run: async ([id], flags, ctx) => {
      const grace = str(flags, "grace");
      const body = grace === undefined ? undefined : { grace_period_seconds: Number(grace) };
      show(
        ctx,
        await api(
          ctx,
          "POST",
          `/projects/${encodeURIComponent(required(id, "PROJECT_ID"))}/tokens`,
          body,
        ),
      );
      return 0;
    },
  },
  "tokens revoke": {
    usage: "tokens revoke PROJECT_ID TOKEN_ID",
    summary: "revoke a webhook token at once",
    run: async ([id, tokenId], _f, ctx) => {
      const path = `/projects/${encodeURIComponent(required(id, "PROJECT_ID"))}/tokens/${encodeURIComponent(required(tokenId, "TOKEN_ID"))}`;
      show(ctx, await api(ctx, "DELETE", path));
      return 0;
    },
  },
  "deliveries list": {
    usage:
      "deliveries list [--project-id N] [--status S] [--since ISO] [--until ISO] [--limit N] [--cursor C]",
    summary: "the delivery log, newest first",
    flags: {
      "project-id": "string",
      status: "string",
      since: "string",
      until: "string",
      limit: "string",
      cursor: "string",
    },
    run: async (_a, flags, ctx) => {
      const res = await api(
        ctx,
        "GET",
        `/deliveries${query(flags, ["project-id", "status", "since", "until", "limit", "cursor"])}`,
      );
      if (ctx.json) {
        show(ctx, res);
        return 0;
      }
      show(ctx, listOf(res, "deliveries"), [
        "id",
        "status",
        "kind",
        "project_path",
        "attempts",
        "received_at",
        "last_status_code",
      ]);
      const next = z.object({ next_cursor: z.string().nullable() }).safeParse(res);
      if (next.success && next.data.next_cursor) {
        ctx.io.out(`more: --cursor ${next.data.next_cursor}`);
      }
      return 0;
    },
  },
  "deliveries show": {
    usage: "deliveries show ID",
    summary: "one delivery with its destinations and attempts",
    run: async ([id], _f, ctx) => {
      show(ctx, await api(ctx, "GET", `/deliveries/${encodeURIComponent(required(id, "ID"))}`));
      return 0;
    },
  },
  "deliveries replay": {
    usage:
      "deliveries replay ID | deliveries replay --status S [--project-id N] [--since ISO] [--until ISO] [--limit N] [--yes]",
    summary: "forward deliveries again; in bulk asks for confirmation unless --yes",
    flags: {
      status: "string",
      "project-id": "string",
      since: "string",
      until: "string",
      limit: "string",
      yes: "boolean",
    },
    run: async ([id], flags, ctx) => {
      if (id) {
        show(ctx, await api(ctx, "POST", `/deliveries/${encodeURIComponent(id)}/replay`));
        return 0;
      }
      const status = required(str(flags, "status"), "ID, or --status for a bulk replay");
      const body: Record<string, unknown> = { status };
      const projectId = positiveInt(str(flags, "project-id"), "--project-id");
      const limit = positiveInt(str(flags, "limit"), "--limit");
      if (projectId !== undefined) {
        body.project_id = projectId;
      }
      if (limit !== undefined) {
        body.limit = limit;
      }
      for (const name of ["since", "until"]) {
        const v = str(flags, name);
        if (v) {
          body[name] = v;
        }
      }
      if (
        flags.yes !== true &&
        !(await ctx.io.confirm(`Replay ${status} deliveries matching ${JSON.stringify(body)}?`))
      ) {
        ctx.io.err("not replayed");
        return 1;
      }
      show(ctx, await api(ctx, "POST", "/deliveries/replay", body));
      return 0;
    },
  },
  "feedback list": {
    usage: "feedback list [--state failed] [--limit N]",
    summary: "feedback requests (statuses, notes, reactions), newest first",
    flags: { state: "string", limit: "string" },
    run: async (_a, flags, ctx) => {
      const res = await api(ctx, "GET", `/feedback${query(flags, ["state", "limit"])}`);
      show(ctx, ctx.json ? res : listOf(res, "feedback"), [
        "id",
        "type",
        "state",
        "attempts",
        "gitlab_status",
        "last_error",
      ]);
      return 0;
    },
  },
  "feedback replay": {
    usage: "feedback replay ID",
    summary: "perform a failed feedback request again",
    run: async ([id], _f, ctx) => {
      show(
        ctx,
        await api(ctx, "POST", `/feedback/${encodeURIComponent(required(id, "ID"))}/replay`),
      );
      return 0;
    },
  },
  normalize: {
    usage: 'normalize FILE --event "Merge Request Hook"',
    summary:
      "print the normalized event the relay would produce for a webhook body (no server needed)",
    flags: { event: "string" },
    run: async ([file], flags, ctx) => {
      const event = required(
        str(flags, "event"),
        '--event (the X-Gitlab-Event value, e.g. "Push Hook")',
      );
      const text = await ctx.io.readFile(required(file, "FILE"));
      let payload: unknown;
      try {
        payload = JSON.parse(text);
      } catch {
        throw new CliError(`${file} is not JSON`);
      }
      const record = asJsonObject(payload);
      if (!record) {
        throw new CliError(`${file} is not a JSON object`);
      }
      const kind = classifyEvent(event, record);
      if (kind.outcome !== "relayed") {
        show(ctx, { outcome: kind.outcome, reason: kind.reason });
        return kind.outcome === "ignored" ? 0 : 1;
      }
      const result = normalize({
        kind: kind.kind,
        gitlabEvent: event,
        payload,
        dedupeKey: "(assigned at ingress)",
        instanceUrl: null,
        project: claimedProject(record),
        receivedAt: Date.now(),
        botUsernames: [],
      });
      ctx.io.out(JSON.stringify(result.outcome === "event" ? result.event : result, null, 2));
      return result.outcome === "reject" ? 1 : 0;
    },
  },
};

function help(io: CliIo): void {
  io.out("relayctl: manage a packit-gitlab-relay through its admin API");
  io.out("environment: RELAY_URL (e.g. https://relay.example.org), ADMIN_TOKEN");
  io.out("every command takes --json (machine-readable output) and --help\n");
  for (const cmd of Object.values(COMMANDS)) {
    io.out(`  ${cmd.usage}\n      ${cmd.summary}`);
  }
}

/** Runs one command line; returns the exit code. */
export async function relayctl(argv: readonly string[], io: CliIo): Promise<number> {
  const words = argv.filter((a) => !a.startsWith("-"));
  const name = COMMANDS[`${words[0]} ${words[1]}`] ? `${words[0]} ${words[1]}` : words[0];
  const command = name ? COMMANDS[name] : undefined;
  if (!command) {
    if (argv.length === 0 || argv.includes("--help") || argv.includes("-h")) {
      help(io);
      return argv.length === 0 ? 1 : 0;
    }
    io.err(`unknown command: ${argv.join(" ")}\nrun relayctl --help`);
    return 2;
  }
  const spec = { json: "boolean", help: "boolean", ...(command.flags ?? {}) } as const;
  const flags: Flags = {};
  const positional: string[] = [];
  const skip = name?.split(" ").length ?? 1;
  let seen = 0;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    if (arg.startsWith("--")) {
      const [flag, inline] = arg.slice(2).split("=", 2) as [string, string | undefined];
      const type = (spec as Record<string, string>)[flag];
      if (!type) {
        io.err(`unknown option --${flag}\nusage: relayctl ${command.usage}`);
        return 2;
      }
      if (type === "boolean") {
        flags[flag] = true;
      } else {
        const value = inline ?? argv[++i];
        if (value === undefined) {
          io.err(`--${flag} needs a value`);
          return 2;
        }
        flags[flag] = value;
      }
    } else if (seen < skip) {
      seen++;
    } else {
      positional.push(arg);
    }
  }
  if (flags.help) {
    io.out(`usage: relayctl ${command.usage}\n${command.summary}`);
    return 0;
  }
  try {
    return await command.run(positional, flags, { io, json: flags.json === true });
  } catch (err) {
    io.err(`error: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
}
