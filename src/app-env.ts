/** Hono typing shared by every route: the generated bindings and per-request variables. */
export type AppEnv = {
  Bindings: Env;
  Variables: {
    requestId: string;
  };
};
