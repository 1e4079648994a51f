// Command reporting serves the ReportingService: a tenant's Scope 3
// inventory, summarized and labelled.
package main

import (
	"github.com/vcci-dev/vcci/pkg/service"
	"github.com/vcci-dev/vcci/services/reporting/server"
)

func main() { service.Main("reporting", server.Run) }
