/**
 * GET /admin/deliveries/{id}/body: what GitLab sent, for the console's delivery page:
 * pretty-printed with anything shaped or named like a secret masked, and the normalized
 * event made from it. Null once the body is purged (or no longer matches its hash).
 */
import { createRoute, z } from "@hono/zod-openapi";
import type { ApiApp } from "../api-app";
import { readConfig } from "../config";
import { loadBody, readPayload } from "../delivery/stored-body";
import { fromStored } from "../domain/stored-message";
import { AppError } from "../errors";
import { normalizeMessage } from "../events/normalize";
import { redact } from "../lib/logger";
import { errorResponses, idParam, json } from "../openapi";
import { security } from "./schemas";

/** GitLab nests up to 64 levels (the ingress limit): mask all of them. */
const MAX_DEPTH = 64;

export function registerDeliveryBodyRoute(admin: ApiApp): void {
  admin.openapi(
    createRoute({
      method: "get",
      path: "/deliveries/{id}/body",
      security,
      summary: "The delivery's body (secrets masked) and its normalized event",
      request: { params: idParam },
      responses: {
        200: {
          description: "Body and normalized event",
          content: json(
            z.object({
              bytes: z.number().int().nullable(),
              body: z.string().nullable(),
              normalized: z.unknown().nullable(),
              note: z.string().nullable(),
            }),
          ),
        },
        ...errorResponses(401, 404),
      },
    }),
    async (c) => {
      const row = await c.var.repos.deliveries.get(c.req.valid("param").id);
      if (!row) {
        throw new AppError("not_found", "no such delivery");
      }
      const message = fromStored(row);
      const bytes = message ? await loadBody(message, c.env.BODIES) : null;
      const payload = bytes ? readPayload(bytes) : null;
      if (!message || !bytes || !payload) {
        return c.json(
          { bytes: null, body: null, normalized: null, note: "the body is no longer stored" },
          200,
        );
      }
      const full = JSON.parse(new TextDecoder().decode(bytes));
      const normalized = normalizeMessage(message, payload, readConfig(c.env).BOT_USERNAMES);
      return c.json(
        {
          bytes: bytes.byteLength,
          body: JSON.stringify(redact(full, 0, MAX_DEPTH), null, 2),
          normalized: normalized.outcome === "event" ? normalized.event : null,
          note: normalized.outcome === "event" ? null : `not normalized: ${normalized.reason}`,
        },
        200,
      );
    },
  );
}
