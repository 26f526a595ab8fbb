import { Type } from 'typebox';
import { MAX_SECRET_DESCRIPTION, MAX_SECRET_VALUE_BYTES, SECRET_NAME_PATTERN } from '../../../domain/index.js';
import { PLAIN } from '../../../domain/plain.js';

const EpochMs = Type.Integer({ description: 'Milliseconds since the Unix epoch.' });
export const SecretNameSchema = Type.String({ minLength: 1, maxLength: 128, pattern: SECRET_NAME_PATTERN, description: "1-128 characters of [A-Za-z0-9._-], not only dots (a URL cannot carry '.' or '..' as a path segment)." });
// No maxLength here: the bound is in bytes, checked by the domain (413 with limitBytes and actualBytes), whatever the characters.
const Value = Type.String({ minLength: 1, description: `The secret's value (UTF-8, at most ${MAX_SECRET_VALUE_BYTES} bytes: 413 past it). Never shown again by the API, never logged.` });

export const SecretNameParams = Type.Object({ name: SecretNameSchema });
export const TaskSecretParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 512 }), name: SecretNameSchema });

const Policy = Type.Object(
  {
    capabilities: Type.Array(Type.String({ minLength: 1, maxLength: 128, pattern: '^(\\*|[A-Za-z0-9._:/-]+)$' }), {
      minItems: 1,
      maxItems: 64,
      description: "The capabilities whose tasks' agents may read it; '*' for every capability of the tenant.",
    }),
  },
  { additionalProperties: false },
);

export const PutSecretBody = Type.Object(
  { value: Value, policy: Policy, description: Type.Optional(Type.String({ maxLength: MAX_SECRET_DESCRIPTION })) },
  { additionalProperties: false, examples: [{ value: '<the token>', policy: { capabilities: ['github'] }, description: 'GitHub token of the release bot' }] },
);

export const RotateSecretBody = Type.Object(
  { value: Type.Optional(Value) },
  { additionalProperties: false, description: 'Without a value, the mesh makes one (32 random bytes, base64url) and returns it once, in `value`.' },
);

export const SecretMetadataSchema = Type.Object({
  name: Type.String(),
  description: Type.Optional(Type.String()),
  policy: Type.Object({ capabilities: Type.Array(Type.String()) }),
  currentVersion: Type.Integer({ description: 'The version agents read.' }),
  versions: Type.Array(Type.Object({ version: Type.Integer(), createdAt: EpochMs, createdBy: Type.Optional(Type.String({ description: 'Key id of the writer.' })) }), {
    description: 'The versions kept (at most 10), newest first.',
  }),
  createdAt: EpochMs,
  updatedAt: EpochMs,
  readable: Type.Boolean({ description: "False once the tenant's key that sealed the current version was destroyed." }),
});

export const RotatedSecret = Type.Object({
  ...PLAIN,
  ...SecretMetadataSchema.properties,
  value: Type.Optional(Type.String({ description: 'The value the mesh made, when the request brought none: shown this once.' })),
});

export const SecretValueSchema = Type.Object({ name: Type.String(), version: Type.Integer(), value: Type.String() });

export const DestroyTenantKeysBody = Type.Object(
  { confirm: Type.String({ minLength: 1, maxLength: 256, description: "The tenant's id, repeated: destroying its keys makes every secret written so far unreadable, for good." }) },
  { additionalProperties: false },
);
