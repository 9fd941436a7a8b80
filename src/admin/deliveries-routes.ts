/**
 * /admin/deliveries: read the delivery log and replay deliveries, one by one or in bulk.
 * Replay re-queues the stored message (body inline or in R2) as a new generation, so it is
 * forwarded even if it was delivered, rejected or a duplicate before.
 */
import { createRoute, z } from "@hono/zod-openapi";
import type { ApiApp } from "../api-app";
import { enqueueDeps } from "../deps";
import { DELIVERY_STATUSES } from "../domain/delivery-state";
import type { WebhookMessage } from "../domain/queue-message";
import { AppError } from "../errors";
import { storeMessage } from "../events/enqueue";
import { sendInBatches } from "../events/send-batches";
import { log } from "../lib/logger";
import { isoOrNull } from "../lib/time";
import { errorResponses, idParam, json } from "../openapi";
import type { DeliveriesRepo } from "../storage/deliveries-repo";
import {
  decodeCursor,
  deliveryDetailSchema,
  deliverySchema,
  encodeCursor,
  storedMessage,
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
    since: time.optional(),
    until: time.optional(),
    limit: z.number().int().min(1).max(1000).default(100),
  })
  .strict();

/** Bumps the generation and returns the message to send, or null for an unknown id. */
async function prepareReplay(repo: DeliveriesRepo, id: string): Promise<WebhookMessage | null> {
  const replay = await repo.beginReplay(id, Date.now());
  if (!replay) {
    return null;
  }
  const stored = storedMessage(replay.message);
  if (!stored) {
    throw new AppError("conflict", `delivery ${id} has no replayable message`);
  }
  return { ...stored, generation: replay.generation };
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
      const storage: "inline" | "r2" | "unknown" =
        storedMessage(row.message)?.body.storage ?? "unknown";
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
      const message = await prepareReplay(c.var.repos.deliveries, id);
      if (!message) {
        throw new AppError("not_found", "no such delivery");
      }
      // Queue, else the D1 inbox (swept every minute); 503 only when neither takes it.
      await storeMessage(enqueueDeps(c.env), id, message, JSON.stringify(message), Date.now());
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
          content: json(z.object({ replayed: z.number().int(), failed: z.number().int() })),
        },
        ...errorResponses(400, 401),
      },
    }),
    async (c) => {
      const input = c.req.valid("json");
      const repo = c.var.repos.deliveries;
      const rows = (await repo.list(toFilter(input), input.limit)).reverse();
      const items: { ref: string; message: WebhookMessage }[] = [];
      for (const row of rows) {
        const message = await prepareReplay(repo, row.id).catch(() => null);
        if (message) {
          items.push({ ref: row.id, message });
        }
      }
      let replayed = 0;
      let failed = rows.length - items.length;
      await sendInBatches(
        c.env.EVENTS_QUEUE,
        items,
        async (ids) => {
          replayed += ids.length;
        },
        async (ids, err) => {
          log("warn", "bulk replay batch refused by the queue; using the inbox", {
            count: ids.length,
            error: String(err),
          });
          const inbox = c.var.repos.inbox;
          for (const item of items.filter((i) => ids.includes(i.ref))) {
            try {
              await inbox.insert(item.ref, JSON.stringify(item.message), Date.now());
              replayed++;
            } catch {
              failed++;
            }
          }
        },
      );
      return c.json({ replayed, failed }, 202);
    },
  );
}
