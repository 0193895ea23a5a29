// The edge API in process on the Workers storage: D1 and R2 from wrangler's local platform proxy (workerd).
import { describeEdgeApi } from './api_suite';
import { d1Target } from './support';

describeEdgeApi('D1 + R2', d1Target);
