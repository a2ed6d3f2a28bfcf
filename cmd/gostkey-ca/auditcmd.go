package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/gostkey/gostkey/ca/audit"
)

func auditCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "the audit journal"}
	var cfgPath string
	verify := &cobra.Command{
		Use:   "verify --config DIR/ca.json",
		Short: "check the journal's hash chain and signed checkpoints; exit 1 naming the first broken record",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cfgPath, "", "")
			if err != nil {
				return err
			}
			issuing, err := readCert(cfg.Path(cfg.Certs.Issuing))
			if err != nil {
				return inputError(err)
			}
			st, err := openStore(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer st.Close()
			res, err := audit.Verify(cmd.Context(), st, audit.VerifyOptions{Key: issuing.PublicKey, Opts: checkpointOpts, Every: cfg.Audit.CheckpointEvery})
			var broken *audit.BrokenError
			if errors.As(err, &broken) {
				return refused("audit journal broken at record %d: %v", broken.Seq, broken.Problem)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "audit journal intact: %d records, %d checkpoints\n", res.Records, res.Checkpoints)
			return nil
		},
	}
	verify.Flags().StringVar(&cfgPath, "config", "", "the CA's ca.json")
	cmd.AddCommand(verify)
	return cmd
}
