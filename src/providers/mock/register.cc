#include <opsorch/providers/mock.h>

#include "providers/mock/alert_provider.h"
#include "providers/mock/deployment_provider.h"
#include "providers/mock/incident_provider.h"
#include "providers/mock/log_provider.h"
#include "providers/mock/messaging_provider.h"
#include "providers/mock/metric_provider.h"
#include "providers/mock/orchestration_provider.h"
#include "providers/mock/service_provider.h"
#include "providers/mock/team_provider.h"
#include "providers/mock/ticket_provider.h"

namespace opsorch::providers::mock {

Status RegisterMockProviders(ProviderRegistry& registry) {
  Status status = Ok();
  const auto add = [&](auto tag, auto factory) {
    using Interface = typename decltype(tag)::type;
    if (status) status = registry.Register<Interface>(kProviderName, factory);
  };
  add(std::type_identity<IncidentProvider>{}, &MockIncidentProvider::FromConfig);
  add(std::type_identity<AlertProvider>{}, &MockAlertProvider::FromConfig);
  add(std::type_identity<LogProvider>{}, &MockLogProvider::FromConfig);
  add(std::type_identity<MetricProvider>{}, &MockMetricProvider::FromConfig);
  add(std::type_identity<TicketProvider>{}, &MockTicketProvider::FromConfig);
  add(std::type_identity<MessagingProvider>{}, &MockMessagingProvider::FromConfig);
  add(std::type_identity<ServiceProvider>{}, &MockServiceProvider::FromConfig);
  add(std::type_identity<DeploymentProvider>{}, &MockDeploymentProvider::FromConfig);
  add(std::type_identity<TeamProvider>{}, &MockTeamProvider::FromConfig);
  add(std::type_identity<OrchestrationProvider>{}, &MockOrchestrationProvider::FromConfig);
  return status;
}

}  // namespace opsorch::providers::mock
