package coldbench;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.auth.credentials.EnvironmentVariableCredentialsProvider;
import software.amazon.awssdk.http.crt.AwsCrtAsyncHttpClient;
import software.amazon.awssdk.services.dynamodb.DynamoDbAsyncClient;

/** What the measured function builds at init: a DynamoDB async client on the CRT HTTP
 *  client (at most 50 connections), credentials from the environment, region from
 *  AWS_REGION. Building it sends nothing; the function here never uses it. */
final class ClientService {

    private static final Logger LOG = LoggerFactory.getLogger(ClientService.class);

    private final DynamoDbAsyncClient dynamoDb;

    ClientService(DynamoDbAsyncClient dynamoDb) {
        this.dynamoDb = dynamoDb;
    }

    static ClientService create() {
        return new ClientService(DynamoDbAsyncClient.builder()
                .httpClientBuilder(AwsCrtAsyncHttpClient.builder().maxConcurrency(50))
                .credentialsProvider(EnvironmentVariableCredentialsProvider.create())
                .build());
    }

    /** The client's service name: shows the client was built, without a request. */
    String serviceName() {
        LOG.debug("client of {}", dynamoDb.serviceName());
        return dynamoDb.serviceName();
    }
}
