import { createRoute, z } from '@hono/zod-openapi';
import { Hex32, problems } from '../../schemas.ts';

export const ProgramIdParams = z.strictObject({
  id: Hex32.openapi({ param: { name: 'id', in: 'path', description: 'Program id `hex(digest("program", {engine, source}))`.' } }),
});

export const ProgramRef = z
  .object({
    id: Hex32.openapi({ description: '`hex(digest("program", { engine, source }))`; a subtree runs it with `"program": "js:<id>"`.' }),
    engine: z.string().openapi({ description: 'The sandbox build, `quickjs-wasm/<version>/<wasm sha256 prefix>`.' }),
  })
  .openapi('ProgramRef');

export const ProgramView = ProgramRef.extend({ source: z.string() }).openapi('Program');

const json = <T extends z.ZodType>(schema: T, description: string) => ({ description, content: { 'application/json': { schema } } });

export const uploadProgramRoute = createRoute({
  method: 'post',
  path: '/v1/programs',
  tags: ['programs'],
  security: [{ adminToken: [] }],
  summary: 'Upload a user program (SPEC §7.1)',
  description:
    'The source is an ES module (at most 64 KiB of UTF-8) whose default export has the program shape. It is refused (4xx, nothing stored) ' +
    'when it is not well-formed text, too large, uses what the engine cannot meter (BigInt literals) or does not load. Needs the admin ' +
    'token unless the node sets DSTP_OPEN_PROGRAMS. The body limit of this route is 512 KiB, for JSON escaping.',
  request: {
    body: {
      required: true,
      content: { 'application/json': { schema: z.strictObject({ source: z.string() }).openapi('NewProgram') } },
    },
  },
  responses: {
    201: json(ProgramRef, 'Stored'),
    200: json(ProgramRef, 'Already known'),
    ...problems(400, 401, 413, 415),
  },
});

export const getProgramRoute = createRoute({
  method: 'get',
  path: '/v1/programs/{id}',
  tags: ['programs'],
  summary: 'A stored user program and its engine',
  request: { params: ProgramIdParams },
  responses: {
    200: json(ProgramView, 'The program'),
    ...problems(400, 404),
  },
});
