# Builds the silo and the gateway into one runtime image; docker-compose.yml picks the process.
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY . .
RUN dotnet publish src/Gateway -c Release -o /out/gateway \
 && dotnet publish src/Silo -c Release -o /out/silo

FROM mcr.microsoft.com/dotnet/aspnet:10.0
WORKDIR /app
COPY --from=build /out/gateway ./gateway
COPY --from=build /out/silo ./silo
ENV Tprcs__Log__DataDirectory=/data
VOLUME /data
EXPOSE 5000
ENTRYPOINT ["dotnet"]
CMD ["gateway/Tprcs.Gateway.dll", "--urls", "http://0.0.0.0:5000"]
