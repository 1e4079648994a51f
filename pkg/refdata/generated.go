package refdata

// GeneratedFile is a shipped file and how it is made from its source; both
// are named relative to data/ (sources are in data/source/).
type GeneratedFile struct {
	Source, Shipped string
	Convert         func(src []byte) ([]byte, error)
}

// Generated lists every shipped file made by the generator, for it and for
// the test that checks the shipped files are what it makes.
func Generated() []GeneratedFile {
	return []GeneratedFile{
		{"cpiai.csv", "cpi_u.csv", ConvertCPI},
		{"fx_monthly.csv", "fx_monthly.csv", ConvertFX},
	}
}
