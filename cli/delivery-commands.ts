/** relayctl commands for the delivery log, failed feedback, and offline normalizing. */
import { z } from "zod";
import { normalize } from "../src/events/normalize";
import { classifyEvent } from "../src/gitlab/event-kinds";
import { claimedProject } from "../src/gitlab/identity-fields";
import { asJsonObject } from "../src/lib/json-object";
import {
  api,
  CliError,
  type Command,
  listOf,
  positiveInt,
  query,
  required,
  show,
  str,
} from "./cli-kit";

const statsAnswer = z.object({
  since: z.string(),
  config_problems: z.array(z.string()),
  ingress_ms: z.object({
    count: z.number(),
    p50: z.number().nullable(),
    p99: z.number().nullable(),
  }),
  projects: z.array(
    z.object({
      project_id: z.number().nullable(),
      project_path: z.string().nullable(),
      kinds: z.record(z.string(), z.record(z.string(), z.number())),
    }),
  ),
});

export const DELIVERY_COMMANDS: Record<string, Command> = {
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
  stats: {
    usage: "stats",
    summary: "the last hour per project and event kind, ingress p50/p99, configuration problems",
    run: async (_a, _f, ctx) => {
      const res = await api(ctx, "GET", "/stats");
      if (ctx.json) {
        show(ctx, res);
        return 0;
      }
      const stats = statsAnswer.parse(res);
      for (const problem of stats.config_problems) {
        ctx.io.out(`configuration: ${problem}`);
      }
      ctx.io.out(
        `since ${stats.since}: ingress p50 ${stats.ingress_ms.p50 ?? "-"} ms, p99 ${stats.ingress_ms.p99 ?? "-"} ms (${stats.ingress_ms.count} events)`,
      );
      const rows = stats.projects.flatMap((p) =>
        Object.entries(p.kinds).map(([kind, counts]) => ({
          project: p.project_path ?? p.project_id ?? "-",
          kind,
          ...counts,
        })),
      );
      show(ctx, rows, [
        "project",
        "kind",
        "received",
        "ignored",
        "delivered",
        "duplicate",
        "retrying",
        "rejected",
        "dead",
      ]);
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
