/* Entry points of the k1s subcommands, one file each in src/cli/. */
#ifndef K1S_CLI_CLI_H
#define K1S_CLI_CLI_H

int k1s_cmd_server(int argc, char **argv);
int k1s_cmd_kubectl(int argc, char **argv);
int k1s_cmd_version(int argc, char **argv);
int k1s_cmd_ctr(int argc, char **argv);
int k1s_cmd_ctr_net(int argc, char **argv);
int k1s_cmd_agent(int argc, char **argv);
int k1s_ctr_images(int argc, char **argv);

#endif
