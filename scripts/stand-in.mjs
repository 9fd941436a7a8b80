#!/usr/bin/env node
// A local packit-service stand-in for `npm start`: takes what the relay forwards, checks the
// X-Gitlab-Token JWT the way packit-service does, and prints one line per event.
//   POST /api/webhooks/gitlab   packit-compat forwards (answers 202 like packit-service)
//   POST /events                normalized CloudEvents (answers 204)
//   GET  /_received             what arrived so far (JSON), for `npm run demo`
import { createServer } from "node:http";
import { jwtVerify } from "jose";

export function startStandIn({ port = 8788, secret = "", quiet = false } = {}) {
  const received = [];
  const server = createServer(async (req, res) => {
    const chunks = [];
    for await (const chunk of req) {
      chunks.push(chunk);
    }
    const body = Buffer.concat(chunks).toString("utf8");
    if (req.method === "GET" && req.url === "/_received") {
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(received));
      return;
    }
    if (req.method === "POST" && req.url === "/api/webhooks/gitlab") {
      let verdict = "token missing";
      try {
        if (req.headers["x-gitlab-token"]) {
          const { payload } = await jwtVerify(
            String(req.headers["x-gitlab-token"]),
            new TextEncoder().encode(secret),
          );
          verdict = `token ok (${payload.namespace}/${payload.repo_name ?? "*"})`;
        }
      } catch {
        verdict = "token INVALID";
      }
      const event = String(req.headers["x-gitlab-event"] ?? "?");
      let summary = "";
      try {
        const p = JSON.parse(body);
        summary = p.object_attributes?.action ?? p.object_attributes?.note ?? p.ref ?? "";
      } catch {}
      const entry = {
        event,
        bytes: Buffer.byteLength(body),
        summary: String(summary).slice(0, 60),
        idempotency_key: req.headers["idempotency-key"] ?? null,
        delivery_id: req.headers["x-relay-delivery-id"] ?? null,
        verdict,
      };
      received.push(entry);
      if (!quiet) {
        console.log(
          `[packit stand-in] ${event.padEnd(20)} ${entry.summary.padEnd(24)} ${verdict}  delivery=${entry.delivery_id}`,
        );
      }
      res.writeHead(verdict.startsWith("token ok") ? 202 : 401, {
        "content-type": "application/json",
      });
      res.end(
        JSON.stringify(
          verdict.startsWith("token ok")
            ? "Webhook accepted. We thank you, Gitlab."
            : "Can't decode X-Gitlab-Token.",
        ),
      );
      return;
    }
    if (req.method === "POST" && req.url === "/events") {
      let type = "?";
      try {
        type = JSON.parse(body).type;
      } catch {}
      const entry = {
        event: "CloudEvent",
        summary: type,
        delivery_id: req.headers["x-relay-delivery-id"] ?? null,
        verdict: req.headers["webhook-signature"] ? "signed" : "unsigned",
      };
      received.push(entry);
      if (!quiet) {
        console.log(
          `[events stand-in]  ${type.padEnd(40)} ${entry.verdict}  delivery=${entry.delivery_id}`,
        );
      }
      res.writeHead(204).end();
      return;
    }
    res.writeHead(404).end();
  });
  return new Promise((resolve) =>
    server.listen(port, "127.0.0.1", () => resolve({ server, received })),
  );
}
