/**
 * /admin/deliveries: read the delivery log and replay deliveries, one by one or in bulk.
 * Replay re-queues the stored message (body inline or in R2) as a new generation, so it is
 * forwarded even if it was delivered, rejected or a duplicate before.
 */
import { createRoute, z } from "@hono/zod-openapi";
import type { ApiApp } from "../api-app";
import type { Repos } from "../app-env";
import { DELIVERY_STATUSES } from "../domain/delivery-state";
import type { WebhookMessage } from "../domain/queue-message";
import { fromStored } from "../domain/stored-message";
import { AppError } from "../errors";
import { sendStored } from "../events/enqueue";
import { sendInBatches } from "../events/send-batches";
import { RELAYED_KINDS } from "../gitlab/event-kinds";
import { log } from "../lib/logger";
import { isoOrNull } from "../lib/time";
import { errorResponses, idParam, json } from "../openapi";
import {
  decodeCursor,
  deliveryDetailSchema,
  deliverySchema,
  encodeCursor,
  summary,
  toFilter,
} from "./delivery-views";
import { security } from "./schemas";

const time = z
  .string()
  .refine((v) => !Number.isNaN(Date.parse(v)), "must be an ISO 8601 time")
  .transform((v) => Date.parse(v));

const filterSchema = z.object({
  project_id: z.coerce.number().int().positive().optional(),
  status: z.enum(DELIVERY_STATUSES).optional(),
  kind: z.enum(RELAYED_KINDS).optional(),
  since: time.optional().openapi({ description: "received at or after (ISO 8601)" }),
  until: time.optional().openapi({ description: "received before (ISO 8601)" }),
});

const listQuery = filterSchema.extend({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z
    .string()
    .max(200)
    .optional()
    .openapi({ description: "next_cursor of the previous page" }),
});

const bulkReplayBody = z
  .object({
    project_id: z.number().int().positive().optional(),
    status: z
      .enum(DELIVERY_STATUSES)
      .openapi({ description: "required: which deliveries to replay" }),
    kind: z.enum(RELAYED_KINDS).optional(),
    since: time.optional(),
    until: time.optional(),
    limit: z.number().int().min(1).max(1000).default(100),
    dry_run: z
      .boolean()
      .default(false)
      .openapi({ description: "only count what would be replayed (the console's confirmation)" }),
  })
  .strict();

/**
 * Puts a delivery back in the queue under its next generation: the delivery and its message
 * (in the inbox) change together, then the queue gets the message and the inbox row goes.
 * Null for an unknown id; 409 when it has no replayable message or another replay won.
 */
async function replay(
  repos: Pick<Repos, "deliveries" | "inbox">,
  id: string,
): Promise<WebhookMessage | null> {
  const row = await repos.deliveries.get(id);
  if (!row) {
    return null;
  }
  const stored = fromStored(row);
  if (!stored) {
    throw new AppError("conflict", `delivery ${id} has no replayable message`);
  }
  const message: WebhookMessage = { ...stored, generation: row.generation + 1 };
  const started = await repos.deliveries.beginReplay({
    id,
    from: row.generation,
    message: JSON.stringify(message),
    now: Date.now(),
  });
  if (!started) {
    throw new AppError("conflict", `delivery ${id} is being replayed already`);
  }
  return message;
}

export function registerDeliveryRoutes(admin: ApiApp): void {
  admin.openapi(
    createRoute({
      method: "get",
      path: "/deliveries",
      security,
      summary: "List deliveries, newest first",
      request: { query: listQuery },
      responses: {
        200: {
          description: "A page of deliveries",
          content: json(
            z.object({ deliveries: z.array(deliverySchema), next_cursor: z.string().nullable() }),
          ),
        },
        ...errorResponses(400, 401),
      },
    }),
    async (c) => {
      const query = c.req.valid("query");
      const rows = await c.var.repos.deliveries.list(
        toFilter(query),
        query.limit + 1,
        query.cursor ? decodeCursor(query.cursor) : undefined,
      );
      const page = rows.slice(0, query.limit);
      const last = page.at(-1);
      return c.json(
        {
          deliveries: page.map(summary),
          next_cursor: rows.length > query.limit && last ? encodeCursor(last) : null,
        },
        200,
      );
    },
  );

  admin.openapi(
    createRoute({
      method: "get",
      path: "/deliveries/{id}",
      security,
      summary: "One delivery with its destinations and attempt history (no secrets, no body)",
      request: { params: idParam },
      responses: {
        200: { description: "The delivery", content: json(deliveryDetailSchema) },
        ...errorResponses(401, 404),
      },
    }),
    async (c) => {
      const repo = c.var.repos.deliveries;
      const row = await repo.get(c.req.valid("param").id);
      if (!row) {
        throw new AppError("not_found", "no such delivery");
      }
      const { targets, attempts } = await repo.details(row.id);
      // Where the log keeps the body: in R2, or in the row (gzipped or not) when R2 refused.
      const kept = fromStored(row)?.body.storage ?? "unknown";
      const storage: "inline" | "r2" | "unknown" = kept === "gzip" ? "inline" : kept;
      return c.json(
        {
          ...summary(row),
          generation: row.generation,
          body_storage: storage,
          destinations: targets.map((t) => ({ ...t, delivered_at: isoOrNull(t.delivered_at) })),
          history: attempts.map((a) => ({
            ...a,
            attempted_at: new Date(a.attempted_at).toISOString(),
          })),
        },
        200,
      );
    },
  );

  admin.openapi(
    createRoute({
      method: "post",
      path: "/deliveries/{id}/replay",
      security,
      summary: "Replay one delivery: forward it again to every destination",
      request: { params: idParam },
      responses: {
        202: {
          description: "Re-queued",
          content: json(
            z.object({ id: z.string(), status: z.literal("queued"), generation: z.number().int() }),
          ),
        },
        ...errorResponses(401, 404, 409, 503),
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const message = await replay(c.var.repos, id);
      if (!message) {
        throw new AppError("not_found", "no such delivery");
      }
      // Queue, else the D1 inbox (swept every minute); 503 only when neither takes it.
      // Durable already (inbox); the queue only makes it prompt.
      await sendStored({ queue: c.env.EVENTS_QUEUE, inbox: c.var.repos.inbox }, id, message);
      return c.json({ id, status: "queued" as const, generation: message.generation }, 202);
    },
  );

  admin.openapi(
    createRoute({
      method: "post",
      path: "/deliveries/replay",
      security,
      summary: "Replay every delivery matching the filter (status required), oldest first",
      request: { body: { content: json(bulkReplayBody), required: true } },
      responses: {
        202: {
          description: "How many were re-queued",
          content: json(
            z.object({
              replayed: z.number().int(),
              failed: z.number().int(),
              failed_ids: z.array(z.string()),
              would_replay: z.number().int().optional().openapi({ description: "with dry_run" }),
            }),
          ),
        },
        ...errorResponses(400, 401),
      },
    }),
    async (c) => {
      const input = c.req.valid("json");
      const repo = c.var.repos.deliveries;
      const rows = (await repo.list(toFilter(input), input.limit)).reverse();
      if (input.dry_run) {
        return c.json({ replayed: 0, failed: 0, failed_ids: [], would_replay: rows.length }, 202);
      }
      const items: { ref: string; message: WebhookMessage }[] = [];
      const failedIds: string[] = [];
      for (const row of rows) {
        try {
          const message = await replay(c.var.repos, row.id);
          if (message) {
            items.push({ ref: row.id, message });
          }
        } catch (err) {
          log("warn", "bulk replay skipped a delivery", {
            delivery_id: row.id,
            error: String(err),
          });
          failedIds.push(row.id);
        }
      }
      // Every item is durable in the inbox; what the queue takes now leaves the inbox.
      await sendInBatches(
        c.env.EVENTS_QUEUE,
        items,
        async (ids) => {
          await c.var.repos.inbox.delete(ids).catch(() => undefined);
        },
        async (ids, err) => {
          log("warn", "bulk replay batch refused by the queue; the inbox sweep sends it", {
            count: ids.length,
            error: String(err),
          });
        },
      );
      return c.json(
        { replayed: items.length, failed: failedIds.length, failed_ids: failedIds },
        202,
      );
    },
  );
}
