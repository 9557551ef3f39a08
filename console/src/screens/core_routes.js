// Route rows of the respond/configure screens (helper A). `nav.also` lists paths that light the
// same nav entry.
import { Home } from './home.jsx';
import { IncidentList } from './incidents.jsx';
import { IncidentDetail } from './incident_detail.jsx';
import { AlertDetail, AlertList } from './alerts.jsx';
import { ServiceDetail, ServiceList } from './services.jsx';
import { PeopleList, PersonDetail, TeamDetail, TeamList } from './people.jsx';
import { OnCall, ScheduleDetail, ScheduleList } from './oncall.jsx';
import { PolicyDetail, PolicyList } from './escalation.jsx';
import { Settings } from './settings.jsx';

export const coreRoutes = [
  { path: '/', title: 'Home', nav: { label: 'Home', group: 'Respond', order: 1 }, component: Home },
  { path: '/incidents', title: 'Incidents', nav: { label: 'Incidents', group: 'Respond', order: 2 }, component: IncidentList },
  { path: '/incidents/:id', title: 'Incident', component: IncidentDetail },
  { path: '/alerts', title: 'Alerts', nav: { label: 'Alerts', group: 'Respond', order: 3 }, component: AlertList },
  { path: '/alerts/:id', title: 'Alert', component: AlertDetail },
  { path: '/oncall', title: 'On call', nav: { label: 'On-call', group: 'Respond', order: 4 }, component: OnCall },
  { path: '/services', title: 'Services', nav: { label: 'Services', group: 'Configure', order: 1 }, component: ServiceList },
  { path: '/services/:id', title: 'Service', component: ServiceDetail },
  { path: '/teams', title: 'Teams', nav: { label: 'Teams & people', group: 'Configure', order: 2, also: ['/people'] }, component: TeamList },
  { path: '/teams/:id', title: 'Team', component: TeamDetail },
  { path: '/people', title: 'People', component: PeopleList },
  { path: '/people/:id', title: 'Person', component: PersonDetail },
  { path: '/escalation-policies', title: 'Escalation policies', nav: { label: 'Escalation policies', group: 'Configure', order: 3 }, component: PolicyList },
  { path: '/escalation-policies/:id', title: 'Escalation policy', component: PolicyDetail },
  { path: '/schedules', title: 'Schedules', nav: { label: 'Schedules', group: 'Configure', order: 4 }, component: ScheduleList },
  { path: '/schedules/:id', title: 'Schedule', component: ScheduleDetail },
  { path: '/settings', title: 'Providers & health', nav: { label: 'Providers & health', group: 'Configure', order: 5 }, component: Settings },
];
