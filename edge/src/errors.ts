// Every error leaves the API as {"error":{"code","message"}}: ApiError carries all three.
import { z } from '@hono/zod-openapi';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

export class ApiError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export const errorBodySchema = z
  .object({ error: z.object({ code: z.string().openapi({ example: 'invalid_body' }), message: z.string().openapi({ example: 'pixels: must hold exactly 784 values, not 1' }) }) })
  .openapi('Error');

export const errorBody = (code: string, message: string): z.infer<typeof errorBodySchema> => ({ error: { code, message } });
