// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title BallastTimelock
/// @notice Holds every governed power (it is the only account `PoolTerms`
/// obeys) and runs a passed proposal's calls no earlier than `minDelay` seconds
/// after it was queued, and no later than `gracePeriod` after that. The delay
/// gives users time to leave before a change they dislike takes effect.
/// @dev Only the governor queues or executes (a proposal is cancelled before it is queued, or not at all). The governor is set
/// once, by the deployer, right after deployment (each needs the other's
/// address); from then on the deployer has no power here.
contract BallastTimelock {
    uint256 public constant MAX_DELAY = 30 days;

    uint256 public immutable minDelay;
    uint256 public immutable gracePeriod;
    address public immutable deployer;
    address public governor;

    /// @notice When each queued operation may run (0: not queued, or done, or cancelled).
    mapping(bytes32 operationId => uint256) public etaOf;
    mapping(bytes32 operationId => bool) public executed;

    event GovernorSet(address indexed governor);
    event OperationQueued(bytes32 indexed operationId, uint256 eta);
    event OperationExecuted(bytes32 indexed operationId);

    error NotGovernor(address caller);
    error NotDeployer(address caller);
    error GovernorAlreadySet(address governor);
    error ZeroAddress();
    error DelayOutOfRange(uint256 delay);
    error OperationAlreadyQueued(bytes32 operationId);
    error OperationNotQueued(bytes32 operationId);
    error ExecuteBeforeTimelock(bytes32 operationId, uint256 eta, uint256 now_);
    error OperationExpired(bytes32 operationId, uint256 expiredAt);
    error CallReverted(uint256 index);

    modifier onlyGovernor() {
        if (msg.sender != governor || governor == address(0)) revert NotGovernor(msg.sender);
        _;
    }

    constructor(uint256 minDelay_, uint256 gracePeriod_) {
        if (minDelay_ > MAX_DELAY) revert DelayOutOfRange(minDelay_);
        if (gracePeriod_ == 0 || gracePeriod_ > MAX_DELAY) revert DelayOutOfRange(gracePeriod_);
        minDelay = minDelay_;
        gracePeriod = gracePeriod_;
        deployer = msg.sender;
    }

    /// @notice One-time wiring by the deployer: name the governor.
    function setGovernor(address governor_) external {
        if (msg.sender != deployer) revert NotDeployer(msg.sender);
        if (governor != address(0)) revert GovernorAlreadySet(governor);
        if (governor_ == address(0)) revert ZeroAddress();
        governor = governor_;
        emit GovernorSet(governor_);
    }

    function operationId(
        address[] calldata targets,
        uint256[] calldata values,
        bytes[] calldata calldatas,
        bytes32 salt
    ) public pure returns (bytes32) {
        return keccak256(abi.encode(targets, values, calldatas, salt));
    }

    /// @notice Queue a batch of calls to run from `block.timestamp + minDelay`.
    function queue(
        address[] calldata targets,
        uint256[] calldata values,
        bytes[] calldata calldatas,
        bytes32 salt
    ) external onlyGovernor returns (bytes32 id, uint256 eta) {
        id = operationId(targets, values, calldatas, salt);
        if (etaOf[id] != 0 || executed[id]) revert OperationAlreadyQueued(id);
        eta = block.timestamp + minDelay;
        etaOf[id] = eta;
        emit OperationQueued(id, eta);
    }

    /// @notice Run a queued batch: every call must succeed or nothing changes. The
    /// timelock holds no ether (proposals carry none), so `values` are all zero.
    function execute(
        address[] calldata targets,
        uint256[] calldata values,
        bytes[] calldata calldatas,
        bytes32 salt
    ) external onlyGovernor {
        bytes32 id = operationId(targets, values, calldatas, salt);
        uint256 eta = etaOf[id];
        if (eta == 0) revert OperationNotQueued(id);
        if (block.timestamp < eta) revert ExecuteBeforeTimelock(id, eta, block.timestamp);
        if (block.timestamp > eta + gracePeriod) revert OperationExpired(id, eta + gracePeriod);
        etaOf[id] = 0;
        executed[id] = true;
        for (uint256 i = 0; i < targets.length; ++i) {
            (bool ok, bytes memory ret) = targets[i].call{value: values[i]}(calldatas[i]);
            if (!ok) {
                // Bubble the target's own custom error so callers see exactly why.
                if (ret.length > 0) {
                    assembly {
                        revert(add(ret, 32), mload(ret))
                    }
                }
                revert CallReverted(i);
            }
        }
        emit OperationExecuted(id);
    }
}
