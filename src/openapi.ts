/**
 * OpenAPI pieces both sub-apps (/admin and /api/v1) describe themselves with: JSON bodies,
 * the error envelope, path ids.
 */
import { z } from "@hono/zod-openapi";

export const json = <T extends z.ZodType>(schema: T) => ({ "application/json": { schema } });

export const errorSchema = z
  .object({
    error: z.object({
      code: z.string().openapi({ example: "validation_failed" }),
      message: z.string(),
      request_id: z.string(),
    }),
  })
  .openapi("Error");

export function errorResponses(...statuses: (400 | 401 | 404 | 409 | 503)[]) {
  const descriptions = {
    400: "Invalid request",
    401: "Missing or wrong bearer token",
    404: "Not found",
    409: "Conflicts with an existing resource",
    503: "A dependency is unavailable",
  } as const;
  return Object.fromEntries(
    statuses.map((status) => [
      status,
      {
        description: descriptions[status],
        content: { "application/json": { schema: errorSchema } },
      },
    ]),
  );
}

export const idParam = z.object({
  id: z
    .string()
    .min(1)
    .max(64)
    .openapi({ param: { in: "path" } }),
});
