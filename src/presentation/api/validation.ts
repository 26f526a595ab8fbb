import AjvCompiler from '@fastify/ajv-compiler';
import SerializerSelector from '@fastify/fast-json-stringify-compiler';
import type { FastifyServerOptions } from 'fastify';
import { PLAIN } from '../../domain/plain.js';

type CompilersFactory = NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>;
type ValidatorFactory = NonNullable<CompilersFactory['buildValidator']>;
type SerializerFactory = NonNullable<CompilersFactory['buildSerializer']>;

/**
 * The Ajv options of every part of a request. Not strictNumbers (Fastify's default): with it, ajv 8
 * coerces a query's "1e999" to Infinity and then skips the value's minimum and maximum, so it
 * passes. Without it, every bounded number refuses Infinity. Not removeAdditional: an unknown field
 * is refused, not dropped. Not allErrors: one error is enough, and all of them is a way to DoS.
 */
export const AJV_OPTIONS = { removeAdditional: false, allErrors: false, strictNumbers: false } as const;

/**
 * Validators that coerce types in the querystring, path parameters and headers (they are text on
 * the wire: `?limit=10` is a number, a lone `?status=x` an array of one), and never in a JSON body,
 * whose types the client chose: `{"capability": 5}` or `{"priority": "7"}` is a 400, not a
 * capability "5" or a priority 7.
 *
 * Two compilers from Fastify's own factory (@fastify/ajv-compiler, as Fastify makes its default:
 * the same defaults, ajv-formats, the server's `ajv` options and plugins), differing only in
 * coerceTypes, both given the schemas added with addSchema (`Type.Ref('Problem')` resolves in each),
 * in every encapsulated context.
 *
 * Fastify lowercases a header schema's property names only for its built-in compiler: name headers
 * in lowercase in `headers` schemas (as HTTP/2 and Node give them).
 */
export function bodyStrictValidators(): CompilersFactory {
  const buildValidator: ValidatorFactory = (externalSchemas, options) => {
    // JSON Type Definition has no coercion to choose: it is not used here.
    if (options?.mode === 'JTD') throw new Error('bodyStrictValidators: JTD schemas are not supported');
    const customOptions = options?.customOptions ?? {};
    const coerce = validatorPool(externalSchemas, { ...PLAIN, ...options, customOptions: { ...PLAIN, ...customOptions, coerceTypes: 'array' } });
    const coercing = compiledOnce((route: Parameters<typeof coerce>[0]) => decimalNumbersOnly(coerce(route), route.schema), coerce);
    const strict = compiledOnce(validatorPool(externalSchemas, { ...PLAIN, ...options, customOptions: { ...PLAIN, ...customOptions, coerceTypes: false } }));
    return (route) => (route.httpPart === 'body' ? strict(route) : coercing(route));
  };
  const buildSerializer: SerializerFactory = (externalSchemas, options) => compiledOnce(serializerPool(externalSchemas, options));
  return { buildValidator, buildSerializer };
}

/**
 * One pool of compilers for the process, as Fastify's factory keeps one per server: the same
 * external schemas and options give the same compiler, so every server the process starts (a
 * restart in place, the test suites' many meshes) shares what the first compiled, instead of
 * spending ~130 ms of CPU compiling the API's schemas again.
 */
const validatorPool = AjvCompiler();

/** The serializer factory of the same external schemas and options, made once; at most a few configurations are kept. */
const serializerPool: SerializerFactory = (() => {
  const select = SerializerSelector();
  const made = new Map<string, ReturnType<SerializerFactory>>();
  const MAX_CONFIGURATIONS = 8;
  return (externalSchemas, options) => {
    const key = JSON.stringify([externalSchemas, options]);
    let factory = made.get(key);
    if (factory === undefined) {
      factory = select(externalSchemas, options);
      if (made.size < MAX_CONFIGURATIONS) made.set(key, factory);
    }
    return factory;
  };
})();

/** A number as a person writes it in a query or header: `10`, `-2`, `0.5`, `1e3`. */
const DECIMAL = /^-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?$/u;

type Validate = ReturnType<ReturnType<ValidatorFactory>> & { errors?: unknown; schemaEnv?: unknown };

/**
 * Ajv coerces any text that JavaScript reads as a number: `0x10` is 16, ` ` and `+5` pass. Text for
 * a number property of the schema must be written in decimal, or it is refused as not a number.
 */
function decimalNumbersOnly(validate: Validate, schema: unknown): Validate {
  const properties = (schema as { properties?: Record<string, { type?: unknown }> } | null)?.properties ?? {};
  const numeric = Object.entries(properties).filter(([, p]) => p.type === 'integer' || p.type === 'number') as Array<[string, { type: string }]>;
  if (numeric.length === 0) return validate;
  const checked = ((data: unknown, ...rest: unknown[]) => {
    if (data !== null && typeof data === 'object') {
      for (const [name, { type }] of numeric) {
        const value = (data as Record<string, unknown>)[name];
        if (typeof value === 'string' && !DECIMAL.test(value)) {
          checked.errors = [{ instancePath: `/${name}`, schemaPath: `#/properties/${name}/type`, keyword: 'type', params: { type }, message: `must be ${type}` }];
          return false;
        }
      }
    }
    const valid = (validate as (...args: unknown[]) => unknown)(data, ...rest);
    checked.errors = validate.errors;
    return valid;
  }) as Validate;
  // Fastify lets Ajv coerce the part in place only when it sees Ajv's own function.
  checked.schemaEnv = validate.schemaEnv;
  return checked;
}

/**
 * Compiles each schema object once per compiler (`key`, the compiler itself unless said): the
 * routes share schemas (every error answer is the same Problem, every page the same query), and
 * Fastify would compile them again for each route and status. What a compiled function does
 * depends only on the schema and the compiler's own options and external schemas, which the
 * compiler fixes.
 */
export function compiledOnce<R extends { schema?: unknown }, F>(compile: (route: R) => F, key: object = compile): (route: R) => F {
  let compiled = compiledBy.get(key) as WeakMap<object, F> | undefined;
  if (compiled === undefined) {
    compiled = new WeakMap<object, F>();
    compiledBy.set(key, compiled);
  }
  return (route) => {
    const { schema } = route;
    // A boolean schema (true, false) cannot be a key, and is cheap to compile.
    if (typeof schema !== 'object' || schema === null) return compile(route);
    let fn = compiled.get(schema);
    if (fn === undefined) {
      fn = compile(route);
      compiled.set(schema, fn);
    }
    return fn;
  };
}

/** What each compiler compiled, by schema object; a compiler no longer used goes with its entries. */
const compiledBy = new WeakMap<object, WeakMap<object, unknown>>();
