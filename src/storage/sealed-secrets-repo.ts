/** Every encrypted column, for re-encrypting them under a new ENCRYPTION_KEY. */
import { z } from "zod";
import {
  apiTokenContext,
  oauthSecretContext,
  projectTokenContext,
  signingSecretContext,
} from "../lib/secret-contexts";

export type SealedSecret = {
  table: "instances" | "registrations";
  column: "api_token_enc" | "oauth_client_secret_enc" | "signing_secret_enc" | "gitlab_token_enc";
  id: string;
  sealed: string;
  context: string;
};

const row = z.object({ id: z.string(), sealed: z.string() });

export class SealedSecretsRepo {
  constructor(private readonly db: D1Database) {}

  async all(): Promise<SealedSecret[]> {
    const [instances, oauth, signing, gitlab] = await this.db.batch([
      this.db.prepare(
        "SELECT id, api_token_enc AS sealed FROM instances WHERE api_token_enc <> ''",
      ),
      this.db.prepare(
        "SELECT id, oauth_client_secret_enc AS sealed FROM instances WHERE oauth_client_secret_enc IS NOT NULL",
      ),
      this.db.prepare(
        "SELECT id, signing_secret_enc AS sealed FROM registrations WHERE signing_secret_enc IS NOT NULL",
      ),
      this.db.prepare(
        "SELECT id, gitlab_token_enc AS sealed FROM registrations WHERE gitlab_token_enc IS NOT NULL",
      ),
    ]);
    const rows = (result: D1Result | undefined) => z.array(row).parse(result?.results ?? []);
    return [
      ...rows(instances).map((r) => ({
        table: "instances" as const,
        column: "api_token_enc" as const,
        id: r.id,
        sealed: r.sealed,
        context: apiTokenContext(r.id),
      })),
      ...rows(oauth).map((r) => ({
        table: "instances" as const,
        column: "oauth_client_secret_enc" as const,
        id: r.id,
        sealed: r.sealed,
        context: oauthSecretContext(r.id),
      })),
      ...rows(signing).map((r) => ({
        table: "registrations" as const,
        column: "signing_secret_enc" as const,
        id: r.id,
        sealed: r.sealed,
        context: signingSecretContext(r.id),
      })),
      ...rows(gitlab).map((r) => ({
        table: "registrations" as const,
        column: "gitlab_token_enc" as const,
        id: r.id,
        sealed: r.sealed,
        context: projectTokenContext(r.id),
      })),
    ];
  }

  /** Replaces a ciphertext only if it is still the one that was read. */
  async replace(secret: SealedSecret, sealed: string): Promise<void> {
    // Table and column come from the fixed union above, never from input.
    await this.db
      .prepare(
        `UPDATE ${secret.table} SET ${secret.column} = ?2 WHERE id = ?1 AND ${secret.column} = ?3`,
      )
      .bind(secret.id, sealed, secret.sealed)
      .run();
  }
}
