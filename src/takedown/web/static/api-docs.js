// Starts Swagger UI on /docs. A file of its own, not an inline script: the page's
// Content-Security-Policy lets scripts run only from this origin (script-src 'self').
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.openapiUrl,
    domNode: root,
    layout: "BaseLayout",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    // Never send the API document to validator.swagger.io: no request leaves this origin.
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
  });
})();
