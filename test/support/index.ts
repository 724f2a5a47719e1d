/**
 * Private servers for fault tests: infra/local/private is the one way to get them (the load
 * test's fault runs use it too); tests import them from here.
 */
export * from '../../infra/local/private/index.ts';
