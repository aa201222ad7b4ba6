/** The frontend's version; a jest test keeps it equal to package.json's. */
export const VERSION = '0.1.0';

/** The REST API generation this frontend speaks (GET /deardiary/version `api`). */
export const API_VERSION = 1;
