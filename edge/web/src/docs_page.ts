// The page at /docs: the API reference, Swagger UI drawn from GET /openapi.json. Its script and styles are bundled from
// the swagger-ui-dist package into this page's own assets, so nothing loads from elsewhere.
import SwaggerUIBundle from 'swagger-ui-dist/swagger-ui-bundle.js';
import 'swagger-ui-dist/swagger-ui.css';

SwaggerUIBundle({
  url: '/openapi.json',
  dom_id: '#api',
  deepLinking: true,
  // Swagger UI would otherwise send the document to validator.swagger.io for a badge.
  validatorUrl: null,
});
