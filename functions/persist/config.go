package function

import "fmt"

// config is what Start reads. func hands Start one map, its ./cfg file
// merged with the process environment, so config is read from that map
// rather than from os.Getenv: several instances in one test process can
// then point at different databases.
type config struct {
	MongoURI string // MONGODB_URI, required
	Database string // MONGODB_DATABASE, default "agentchat"
}

func configFrom(m map[string]string) (config, error) {
	c := config{MongoURI: m["MONGODB_URI"], Database: m["MONGODB_DATABASE"]}
	if c.Database == "" {
		c.Database = "agentchat"
	}
	if c.MongoURI == "" {
		return c, fmt.Errorf("persist: config: MONGODB_URI is required")
	}
	return c, nil
}
