/**
 * The AES-GCM additional data for each encrypted column: a ciphertext copied to another
 * row or column fails to decrypt.
 */
export const apiTokenContext = (instanceId: string) => `instances:${instanceId}:api_token`;
export const signingSecretContext = (projectId: string) => `projects:${projectId}:signing_secret`;
export const projectTokenContext = (projectId: string) => `projects:${projectId}:gitlab_token`;
export const oauthSecretContext = (instanceId: string) =>
  `instances:${instanceId}:oauth_client_secret`;
