# NixOS module for vnet:
#   imports = [ ./nix/module.nix ];
#   services.vnet = { enable = true; hostFile = ./host.toml; switches = [ "lab" ]; };
# hostFile becomes /etc/vnet/host.toml; vnet-apply converges it once at boot, before
# network-pre.target; each name in `switches` runs as vnet-switch@NAME (the package's
# template unit, reading /etc/vnet/host.toml).
{ config, lib, pkgs, ... }:

let
  cfg = config.services.vnet;
in
{
  options.services.vnet = {
    enable = lib.mkEnableOption "vnet, which converges network links to a host.toml at boot";

    package = lib.mkOption {
      type = lib.types.package;
      default = pkgs.callPackage ./package.nix { };
      defaultText = lib.literalExpression "pkgs.callPackage ./nix/package.nix { }";
      description = "The vnet package to use.";
    };

    hostFile = lib.mkOption {
      type = lib.types.path;
      example = lib.literalExpression "./host.toml";
      description = "The host.toml to apply at boot (see host.toml(5)); installed as /etc/vnet/host.toml.";
    };

    switches = lib.mkOption {
      type = lib.types.listOf lib.types.str;
      default = [ ];
      example = [ "lab" ];
      description = "Names of [switches.NAME] tables in hostFile to run, one vnet-switch@NAME unit each.";
    };
  };

  config = lib.mkIf cfg.enable {
    environment.systemPackages = [ cfg.package ];
    environment.etc."vnet/host.toml".source = cfg.hostFile;

    # Brings the package's vnet-switch@.service template.
    systemd.packages = [ cfg.package ];

    systemd.services = {
      vnet-apply = {
        description = "vnet: converge network links to /etc/vnet/host.toml";
        documentation = [ "man:vnet(8)" "man:host.toml(5)" ];
        wantedBy = [ "multi-user.target" ];
        wants = [ "network-pre.target" ];
        before = [ "network-pre.target" "shutdown.target" ];
        after = [ "local-fs.target" "systemd-modules-load.service" "systemd-sysctl.service" "systemd-udev-trigger.service" ];
        conflicts = [ "shutdown.target" ];
        restartTriggers = [ cfg.hostFile ];
        # Early boot: default dependencies would order it after basic.target.
        unitConfig.DefaultDependencies = false;
        serviceConfig = {
          Type = "oneshot";
          RemainAfterExit = true;
          ExecStart = "${lib.getExe cfg.package} apply /etc/vnet/host.toml";
          StandardOutput = "journal+console";
          StandardError = "journal+console";
          TimeoutStartSec = 120;
        };
      };
    } // lib.listToAttrs (map
      (name: lib.nameValuePair "vnet-switch@${name}" {
        # Enables an instance of the package's template; adds to it, replaces nothing.
        overrideStrategy = "asDropin";
        wantedBy = [ "multi-user.target" ];
        after = [ "vnet-apply.service" ];
        restartTriggers = [ cfg.hostFile ];
      })
      cfg.switches);
  };
}
