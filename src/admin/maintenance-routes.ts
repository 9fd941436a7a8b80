/**
 * POST /admin/maintenance/reencrypt: after ENCRYPTION_KEY became "new,old", re-encrypts every
 * stored secret under the new key, so the old one can then be removed.
 */
import { createRoute, z } from "@hono/zod-openapi";
import type { ApiApp } from "../api-app";
import { audit } from "../audit";
import { requireEncryptionKey } from "../config";
import { decrypt, encrypt } from "../lib/crypto";
import { log } from "../lib/logger";
import { errorResponses, json } from "../openapi";
import { security } from "./schemas";

export function registerMaintenanceRoutes(admin: ApiApp): void {
  admin.openapi(
    createRoute({
      method: "post",
      path: "/maintenance/reencrypt",
      security,
      summary: "Re-encrypt stored secrets under the first ENCRYPTION_KEY",
      responses: {
        200: {
          description: "How many were re-encrypted, and how many no configured key could open",
          content: json(z.object({ reencrypted: z.number().int(), unreadable: z.number().int() })),
        },
        ...errorResponses(401, 503),
      },
    }),
    async (c) => {
      const keys = requireEncryptionKey(c.env);
      const repo = c.var.repos.sealedSecrets;
      let reencrypted = 0;
      let unreadable = 0;
      for (const secret of await repo.all()) {
        try {
          const plain = await decrypt(keys, secret.sealed, secret.context);
          await repo.replace(secret, await encrypt(keys, plain, secret.context));
          reencrypted++;
        } catch {
          unreadable++;
          log("error", "a stored secret opens with none of the configured keys", {
            table: secret.table,
            column: secret.column,
            id: secret.id,
          });
        }
      }
      audit(c, "secrets.reencrypt", { reencrypted, unreadable });
      return c.json({ reencrypted, unreadable }, 200);
    },
  );
}
