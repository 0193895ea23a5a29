// The part of swagger-ui-dist (which ships no types) that the /docs page calls.
declare module 'swagger-ui-dist/swagger-ui-bundle.js' {
  export default function SwaggerUIBundle(options: { url: string; dom_id: string; deepLinking?: boolean; validatorUrl?: string | null }): unknown;
}
declare module 'swagger-ui-dist/swagger-ui.css';
