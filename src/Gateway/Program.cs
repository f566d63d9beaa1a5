Tprcs.Gateway.GatewayApp.Create(args).Run();
