// Route rows of the observe/operate screens (helper B).
import '../ops.css';
import { Logs } from './logs.jsx';
import { Metrics } from './metrics.jsx';
import { Tickets, TicketDetail } from './tickets.jsx';
import { Deployments, DeploymentDetail } from './deployments.jsx';
import { OrchestrationHome, Plans, PlanDetail, Runs } from './orchestration.jsx';
import { RunDetail } from './orchestration_run.jsx';
import { Sla } from './sla.jsx';

export const opsRoutes = [
  { path: '/logs', title: 'Logs', nav: { label: 'Logs', group: 'Observe', order: 10 }, component: Logs },
  { path: '/metrics', title: 'Metrics', nav: { label: 'Metrics', group: 'Observe', order: 20 }, component: Metrics },
  { path: '/deployments', title: 'Deployments', nav: { label: 'Deployments', group: 'Observe', order: 30 }, component: Deployments },
  { path: '/deployments/:id', title: 'Deployment', component: DeploymentDetail },
  { path: '/sla', title: 'SLA analytics', nav: { label: 'SLA analytics', group: 'Observe', order: 40 }, component: Sla },
  { path: '/orchestration', title: 'Orchestration', nav: { label: 'Orchestration', group: 'Operate', order: 10 }, component: OrchestrationHome },
  { path: '/orchestration/plans', title: 'Plans', component: Plans },
  { path: '/orchestration/plans/:id', title: 'Plan', component: PlanDetail },
  { path: '/orchestration/runs', title: 'Runs', component: Runs },
  { path: '/orchestration/runs/:id', title: 'Run', component: RunDetail },
  { path: '/tickets', title: 'Tickets', nav: { label: 'Tickets', group: 'Operate', order: 20 }, component: Tickets },
  { path: '/tickets/:id', title: 'Ticket', component: TicketDetail },
];
