// Command calculator serves the CalculatorService: factors, emissions and
// their provenance.
package main

import (
	"github.com/vcci-dev/vcci/pkg/service"
	"github.com/vcci-dev/vcci/services/calculator/server"
)

func main() { service.Main("calculator", server.Run) }
