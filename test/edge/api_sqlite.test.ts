// The edge API in process on the Node entry's storage: SQLite and a weights folder.
import { describeEdgeApi } from './api_suite';
import { sqliteTarget } from './support';

describeEdgeApi('SQLite + files', sqliteTarget);
